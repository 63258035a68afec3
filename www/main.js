// mobilenetv3-wasm demo page: model picker, live camera labels, image cards.
// Uses only the public API of the npm package (imported by its name; www/serve.mjs points Vite at js/).
// One model object (model.js) that the panels subscribe to: the model bar (model-bar.js), the
// image cards (cards.js), the camera (camera.js) and the custom classes (teach.js).
import { clearCache } from 'mobilenetv3-wasm';
import { model } from './model.js';
import { setupModelBar, setStatus } from './model-bar.js';
import { setupCards } from './cards.js';
import { camera } from './camera.js';
import { setupTeach, teachState } from './teach.js';
import { $, showAlert } from './ui.js';

function setupFooter() {
  $('clear-cache').addEventListener('click', async () => {
    const removed = await clearCache();
    $('cache-note').textContent = removed ? 'Done: the models will be downloaded again next time.' : 'Nothing was cached.';
  });
}

// State for tests and the curious (read-only figures, and one test hook; not an API).
window.__demo = {
  /** Tests: how long a starting camera may go without a frame (default 10 s). */
  setCameraFrameTimeout(ms) {
    camera.frameTimeoutMs = ms;
  },
  get model() {
    return { state: model.state, name: model.current && model.current.name, info: model.clf ? model.clf.info : null, error: model.error && { code: model.error.code, message: model.error.message } };
  },
  get camera() {
    return { state: camera.state, frames: camera.frames, fps: camera.fps, inferenceMs: camera.inferenceMs };
  },
  get teach() {
    return teachState();
  },
};

async function main() {
  setStatus(null);
  camera.setup();
  setupCards();
  setupTeach();
  setupFooter();
  await model.loadList();
  model.load(setupModelBar());
}

main().catch((e) => {
  showAlert($('model-error'), { title: 'The page failed to start.', body: e && e.message ? e.message : String(e) });
  model.fail(e);
});
