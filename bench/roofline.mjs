// The SIMD128 roofline kernel: WebAssembly text written here, assembled with binaryen (npm
// package `binaryen`, no optimization passes), so the loop is exactly what we wrote.
//
//   run(n, m, c) -> f32: n iterations of, for each of A independent accumulators,
//       acc_i = f32x4.add(f32x4.mul(acc_i, M), C)        (1 f32x4 mul + 1 f32x4 add = 4 MACs)
//   unrolled U times per iteration. M, C are splats of the f32 arguments, so nothing can be
//   constant-folded; each accumulator is a dependency chain, A chains run in parallel. With
//   m = 1 - 2^-20 and c = 2^-20 every value stays in [0.5, 1] (no denormals, no overflow).
//   MACs per call = n * A * U * 4. The result (sum of lanes) keeps the work alive.
//
// With `fma`, the body is acc_i = f32x4.relaxed_madd(acc_i, M, C) instead (relaxed SIMD: one
// fused multiply-add where the CPU has FMA), the peak of our relaxed-SIMD builds. SIMD128 has no
// fused multiply-add, so the peak of a SIMD128 kernel is the separate mul + add rate.

export function rooflineWat(accs, unroll = 4, fma = false) {
  const lines = [];
  lines.push('(module');
  lines.push('  (func (export "run") (param $n i32) (param $mf f32) (param $cf f32) (result f32)');
  lines.push('    (local $m v128) (local $c v128)');
  for (let i = 0; i < accs; i++) lines.push(`    (local $a${i} v128)`);
  lines.push('    (local.set $m (f32x4.splat (local.get $mf)))');
  lines.push('    (local.set $c (f32x4.splat (local.get $cf)))');
  for (let i = 0; i < accs; i++) {
    const v = (0.5 + i / (2 * accs)).toFixed(6);
    lines.push(`    (local.set $a${i} (f32x4.splat (f32.const ${v})))`);
  }
  lines.push('    (block $done');
  lines.push('      (br_if $done (i32.le_s (local.get $n) (i32.const 0)))');
  lines.push('      (loop $loop');
  for (let u = 0; u < unroll; u++) {
    for (let i = 0; i < accs; i++) {
      const body = fma
        ? `(f32x4.relaxed_madd (local.get $a${i}) (local.get $m) (local.get $c))`
        : `(f32x4.add (f32x4.mul (local.get $a${i}) (local.get $m)) (local.get $c))`;
      lines.push(`        (local.set $a${i} ${body})`);
    }
  }
  lines.push('        (br_if $loop (i32.gt_s (local.tee $n (i32.sub (local.get $n) (i32.const 1))) (i32.const 0)))');
  lines.push('      )');
  lines.push('    )');
  let sum = '(local.get $a0)';
  for (let i = 1; i < accs; i++) sum = `(f32x4.add ${sum} (local.get $a${i}))`;
  lines.push(`    (f32.add (f32.add (f32x4.extract_lane 0 ${sum}) (f32x4.extract_lane 1 ${sum}))`);
  lines.push(`             (f32.add (f32x4.extract_lane 2 ${sum}) (f32x4.extract_lane 3 ${sum})))`);
  lines.push('  )');
  lines.push(')');
  return lines.join('\n');
}

/** Assemble with binaryen's text parser (no optimization); returns the wasm bytes. */
export async function assembleRoofline(accs, unroll = 4, fma = false) {
  const { default: binaryen } = await import('binaryen');
  const mod = binaryen.parseText(rooflineWat(accs, unroll, fma));
  mod.setFeatures(binaryen.Features.MVP | binaryen.Features.SIMD128 | (fma ? binaryen.Features.RelaxedSIMD : 0));
  if (!mod.validate()) throw new Error(`roofline wasm (A=${accs}${fma ? ', relaxed FMA' : ''}) does not validate`);
  const bytes = mod.emitBinary();
  mod.dispose();
  return bytes;
}

export const MACS_PER_ITER = (accs, unroll = 4) => accs * unroll * 4;
