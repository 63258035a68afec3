#!/usr/bin/env node
// js/models.js from weights/models.json: the model registry is written once (weights/models.json)
// and the package gets it as an ES module (a JSON import needs import attributes, which not every
// browser or bundler the package supports has).
//
//   node weights/sync-models.mjs           write js/models.js
//   node weights/sync-models.mjs --check   exit 1 if js/models.js is not what this would write
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const reg = JSON.parse(readFileSync(join(ROOT, 'weights', 'models.json'), 'utf8'));
const text = `// Known checkpoints of timm's mobilenetv3.py. GENERATED from weights/models.json by
// weights/sync-models.mjs (./build.sh runs it): edit that file, not this one.
// Default URLs are timm's Hugging Face repos; self-hosters pass \`weights\` and \`config\` instead.

export const DEFAULT_MODEL = ${JSON.stringify(reg.default)};

export const MODEL_LIST = ${JSON.stringify(reg.models, null, 2)};
`;
const out = join(ROOT, 'js', 'models.js');
if (process.argv.includes('--check')) {
  if (readFileSync(out, 'utf8') !== text) {
    console.error('js/models.js differs from weights/models.json: run node weights/sync-models.mjs');
    process.exit(1);
  }
} else {
  writeFileSync(out, text);
}
