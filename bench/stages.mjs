// Where a multi-thread forward pass spends its time, stage by stage (the threaded build's stage
// trace, DebugHooks.traceStages): per stage its tasks, its span (first member in -> last task
// done) against its summed task time / threads (the span with perfect balance), the loss
// (span - that), how late the second member arrived, how the members waited (spun, blocked,
// skipped: arrived after the stage was done), the wake-up (last task done -> a waiting member
// out); per pass the start (call -> first and last member in) and the return to the caller.
// Medians over the passes (minima beside the totals: on a shared machine interruptions only add).
//   node bench/stages.mjs [--engines chromium,firefox] [--passes N] [--threads N] [--dir DIR] [--all]
// DIR: a js/wasm folder (default js/wasm). --all prints every stage (default: the 25 worst by loss).
// Model: the benchmark's seeded mobilenetv3_large_100 (bench/cache, made by `node bench/run.mjs` once).
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { cachedModel, median, openBenchPage } from './page-setup.mjs';
import { startServer } from './server.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const CACHE = join(ROOT, 'bench', 'cache');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : process.argv[i + 1];
};
const dir = resolve(arg('--dir', join(ROOT, 'js', 'wasm')));
const engines = arg('--engines', 'chromium,firefox').split(',');
const passes = Number(arg('--passes', '40'));
const threads = Number(arg('--threads', '2'));
const all = process.argv.includes('--all');
const model = 'mobilenetv3_large_100';
for (const f of [`${model}.safetensors`, `${model}.config.json`]) {
  if (!existsSync(join(CACHE, f))) throw new Error(`bench/cache/${f} missing: run node bench/run.mjs once`);
}
const photo = resolve(ROOT, '..', 'shared', 'photos', 'koala.jpg');
const srv = await startServer({ '/bench/': join(ROOT, 'bench'), '/js/wasm/': dir, '/js/': join(ROOT, 'js'), '/photo/': resolve(photo, '..') });
const f = (x, w = 7, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '-').padStart(w);

try {
  for (const engine of engines) {
    const spec = cachedModel(model);
    const { browser, page, env } = await openBenchPage(engine, srv, spec);
    try {
      const build = env.relaxedSimd ? 'threaded-relaxed' : 'threaded';
      const { handle } = await page.evaluate((sp) => window.bench.start(sp), { engine: 'ours', build, threads, model: spec });
      await page.evaluate((h) => window.bench.time(h, 3, 5), handle);
      const steps = (await page.evaluate((h) => window.bench.profile(h, 1), handle))[0];
      // Batches of timed passes and traced passes, alternating, so both see the same machine.
      const timed = [];
      const traces = [];
      while (traces.length < passes) {
        timed.push(...(await page.evaluate((h) => window.bench.time(h, 0, 4), handle)).times);
        traces.push(...(await page.evaluate((h) => window.bench.stages(h, 4), handle)));
      }
      const teams = traces.filter((t) => t.team === threads);
      console.log(`\n${engine} (${build}, ${threads} threads): ${teams.length} traced passes as a team of ${threads} (of ${traces.length}); ` +
        `timed passes between them: median ${f(median(timed), 0)} min ${f(Math.min(...timed), 0)} ms; load now ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
      if (!teams.length) continue;
      const per = teams[0].stages.map((s) => ({ step: steps[s.step] ? steps[s.step].name : `step ${s.step}`, tasks: s.tasks, span: [], half: [], loss: [], late: [], wake: [], spun: 0, blocked: 0, skipped: 0, imbalance: [] }));
      const totals = { pass: [], span: [], half: [], loss: [], gaps: [], first: [], second: [], ret: [] };
      for (const t of teams) {
        let prevDone = 0;
        const tot = { span: 0, half: 0, gaps: 0 };
        t.stages.forEach((s, k) => {
          const p = per[k];
          const arrived = s.members.map((m) => m.arrive);
          const open = Math.min(...arrived);
          const done = s.tasks > 0 ? s.done : open;
          const busy = s.members.reduce((a, m) => a + m.busy, 0);
          p.span.push(done - open); p.half.push(busy / threads); p.loss.push(done - open - busy / threads);
          p.late.push(Math.max(...arrived) - open);
          for (const m of s.members) {
            if (m.exit === 'spun') p.spun++;
            if (m.exit === 'blocked') { p.blocked++; p.wake.push(m.leave - s.done); }
            if (m.exit === 'skipped') p.skipped++;
          }
          tot.span += done - open; tot.half += busy / threads; tot.gaps += Math.max(0, open - prevDone);
          prevDone = done;
        });
        const first = t.stages[0].members.map((m) => m.arrive);
        totals.pass.push(t.returned); totals.span.push(tot.span); totals.half.push(tot.half); totals.loss.push(tot.span - tot.half); totals.gaps.push(tot.gaps);
        totals.first.push(Math.min(...first)); totals.second.push(Math.max(...first)); totals.ret.push(t.returned - t.stages[t.stages.length - 1].done);
      }
      const line = (label, a, note = '') => console.log(`  ${label.padEnd(58)} median ${f(median(a))}  min ${f(Math.min(...a))} ms${note}`);
      line('pass (call -> return to the caller)', totals.pass);
      line(`sum of stage spans (first member in -> last task done)`, totals.span);
      line(`sum of (task time / ${threads}): the spans with perfect balance`, totals.half);
      line('loss: spans - that', totals.loss);
      line('between stages (last task done -> next stage opened)', totals.gaps);
      line('start: call -> first member in', totals.first);
      line('start: call -> last member in', totals.second);
      line('end: last task done -> caller back', totals.ret);
      const n = teams.length;
      const exits = (key) => per.reduce((a, p) => a + p[key], 0) / n;
      console.log(`  member exits per pass: spun ${exits('spun').toFixed(1)}, blocked ${exits('blocked').toFixed(1)} (wake-up median ${f(median(per.flatMap((p) => p.wake)))} ms), skipped ${exits('skipped').toFixed(1)}, of ${per.length} stages`);
      const rows = per.map((p, k) => ({ k, ...p, lossMed: median(p.loss) }));
      const shown = all ? rows : [...rows].sort((a, b) => b.lossMed - a.lossMed).slice(0, 25).sort((a, b) => a.k - b.k);
      console.log(`  ${all ? 'every stage' : 'the 25 stages with the largest median loss'} (medians over ${n} passes; spun/blocked/skipped: member exits in all passes):`);
      console.log('    #  step                        tasks    span  tasks/T     loss    late    wake  spun blocked skipped');
      for (const r of shown) {
        console.log(`  ${String(r.k).padStart(3)}  ${r.step.padEnd(26)} ${String(r.tasks).padStart(5)} ${f(median(r.span))} ${f(median(r.half), 8)} ${f(r.lossMed, 8)} ${f(median(r.late))} ${f(median(r.wake))} ${String(r.spun).padStart(5)} ${String(r.blocked).padStart(7)} ${String(r.skipped).padStart(7)}`);
      }
      const byTasks = {};
      for (const r of rows) (byTasks[r.tasks] ||= []).push(r);
      console.log('  stages by task count: ' + Object.entries(byTasks).map(([t, rs]) => `${t} tasks x${rs.length} (loss ${f(rs.reduce((a, r) => a + r.lossMed, 0), 0)} ms)`).join(', '));
    } finally {
      await browser.close();
    }
  }
} finally {
  await srv.close();
}
