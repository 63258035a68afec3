// Access to the genuine weights and photos in ../shared (never copied into the repository).
//
//   import { shared, requireShared } from './lib/shared.mjs';
//   test('...', async (t) => { if (!requireShared(t)) return; ... shared.weights('tf_mobilenetv3_small_100') });
//
// requireShared(t): true when ../shared is there. Otherwise: with env CI set it throws (the test
// fails loudly); without CI it marks the test skipped with a clear message and returns false.
// URLs: the test server (lib/server.mjs) mounts ../shared at '/shared/'.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SHARED_DIR } from './server.mjs';

export const shared = {
  dir: SHARED_DIR,
  weights: (name) => path.join(SHARED_DIR, 'weights', `${name}.safetensors`),
  config: (name) => path.join(SHARED_DIR, 'weights', `${name}.config.json`),
  weightsUrl: (name) => `/shared/weights/${name}.safetensors`,
  configUrl: (name) => `/shared/weights/${name}.config.json`,
  photo: (file) => path.join(SHARED_DIR, 'photos', file),
  photoUrl: (file) => `/shared/photos/${file}`,
  /** [{ file, index, synset }] from photos/labels.csv */
  labels() {
    const lines = readFileSync(path.join(SHARED_DIR, 'photos', 'labels.csv'), 'utf8').trim().split('\n').slice(1);
    return lines.map((l) => {
      const [file, index, synset] = l.split(',');
      return { file, index: Number(index), synset };
    });
  },
  /** { [file]: { [model]: { label, top5: [idx], p5: [prob] } } } */
  timmTop5: () => JSON.parse(readFileSync(path.join(SHARED_DIR, 'photos', 'timm_reference_top5.json'), 'utf8')),
};

export const MODELS_UNDER_TEST = ['tf_mobilenetv3_small_100', 'tf_mobilenetv3_large_minimal_100'];

export function sharedAvailable() {
  return MODELS_UNDER_TEST.every((m) => existsSync(shared.weights(m)) && existsSync(shared.config(m))) &&
    existsSync(path.join(SHARED_DIR, 'photos', 'labels.csv'));
}

export function requireShared(t) {
  if (sharedAvailable()) return true;
  const msg = `genuine weights/photos missing in ${SHARED_DIR} (see ../shared/weights/README.md)`;
  if (process.env.CI) throw new Error(`${msg}; CI is set, so this is a failure`);
  t.skip(msg);
  return false;
}
