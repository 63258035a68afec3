// What the diagnostic bench scripts (ab.mjs, warmup.mjs, stages.mjs) share: a median, and the
// bench page opened in an engine with the benchmark's seeded model and the koala photo prepared.
import { launchEngine } from '../tests/browser/lib/engines.mjs';

/** Median of the finite values of `a` (NaN when there are none). */
export function median(a) {
  const s = a.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The bench page's model spec for `model`'s files in bench/cache (made by `node bench/run.mjs`). */
export function cachedModel(model) {
  return {
    name: model, arch: model, weightsUrl: `/bench/cache/${model}.safetensors`,
    configUrl: `/bench/cache/${model}.config.json`, tfliteUrl: `/bench/cache/${model}.tflite`,
  };
}

/**
 * Launch `engine`, open the bench page served by `srv` (which must mount /bench/, /js/ and
 * /photo/ with koala.jpg) and prepare `spec`'s input. Returns { browser, page, env }; the caller
 * closes the browser.
 */
export async function openBenchPage(engine, srv, spec) {
  const browser = await launchEngine(engine, { sharedArrayBuffer: true });
  try {
    const page = await browser.open(`${srv.url}/bench/www/index.html`, { timeout: 60000 });
    const env = await page.evaluate(() => window.bench.env());
    await page.evaluate((a) => window.bench.prepare(a.spec, a.photo), { spec, photo: '/photo/koala.jpg' });
    return { browser, page, env };
  } catch (e) {
    await browser.close().catch(() => {});
    throw e;
  }
}
