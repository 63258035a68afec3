// Camera: live labels over the video. Follows the model object (watch() restarts on every model
// switch); what it watches with is pluggable: the teach panel routes frames to its learner.
import { model } from './model.js';
import { $, el, ms, splitLabel, announce, store, drawTopRows, showAlert, hideAlert } from './ui.js';

function describeCameraError(e) {
  const name = e && e.name;
  if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') {
    return {
      title: 'Camera access was denied.',
      body: 'Allow the camera for this site (the camera icon in the address bar, or the site settings), then press Try again. Images still work meanwhile.',
    };
  }
  if (name === 'NotFoundError' || name === 'DevicesNotFoundError' || name === 'OverconstrainedError') {
    return { title: 'No camera found.', body: 'Connect a camera and press Try again, or classify images below.' };
  }
  if (name === 'NotReadableError' || name === 'TrackStartError' || name === 'AbortError') {
    return { title: 'The camera is busy.', body: 'Another app or tab is using it. Close that, then press Try again.' };
  }
  return { title: 'The camera could not be started.', body: e && e.message ? e.message : String(e) };
}

/**
 * video.play() on a camera stream, bounded: a camera that never sends a frame (held by another
 * app, a broken driver) leaves play() pending forever, and the Start button disabled with it.
 */
function playWithin(video, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(Object.assign(new Error(`no frame within ${ms / 1000} s`), { name: 'CameraTimeout' })), ms);
    video.play().then(
      () => { clearTimeout(timer); resolve(); },
      (e) => { clearTimeout(timer); reject(e); },
    );
  });
}

class Camera extends EventTarget {
  /** How long the first frame may take before the start is given up (tests lower it). */
  frameTimeoutMs = 10000;
  stream = null;
  stopWatch = null;
  state = 'off'; // off | starting | on
  deviceId = null;
  times = []; // callback timestamps for the FPS figure
  frames = 0;
  lastStats = 0;
  lastAnnounce = 0;
  fps = 0;
  inferenceMs = 0;
  /** The learner whose labels are shown instead of ImageNet's (teach mode), or null. */
  learner = null;

  ui() {
    return { stage: $('stage'), video: $('video'), button: $('cam-toggle'), msg: $('stage-message'), stats: $('cam-stats'), rows: $('live-labels').children };
  }

  setState(state) {
    this.state = state;
    const { stage, button } = this.ui();
    stage.dataset.camera = state;
    const label = button.querySelector('span');
    label.textContent = state === 'off' ? 'Start camera' : state === 'starting' ? 'Starting…' : 'Stop camera';
    button.setAttribute('aria-pressed', String(state === 'on'));
    button.disabled = state === 'starting';
    this.dispatchEvent(new CustomEvent('state', { detail: { state } }));
  }

  clearLabels() {
    drawTopRows(this.ui().rows, []);
    this.ui().stats.textContent = '– ms · – fps';
  }

  /** The overlay while there is no model (loading / failed). */
  showModelWait() {
    if (this.state !== 'on') return;
    drawTopRows(this.ui().rows, [], { message: model.state === 'error' ? 'No model loaded (see above)' : 'Loading the model…' });
  }

  async start(deviceId = this.deviceId) {
    const box = $('camera-error');
    hideAlert(box);
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return this.fail({ title: 'No camera access here.', body: window.isSecureContext ? 'This browser has no camera API.' : 'Browsers only allow the camera on https:// pages or http://localhost.' });
    }
    this.setState('starting');
    const { video, msg } = this.ui();
    msg.textContent = 'Waiting for the camera…';
    let stream;
    try {
      const size = { width: { ideal: 640 }, height: { ideal: 480 } };
      stream = await navigator.mediaDevices.getUserMedia({
        video: deviceId ? { deviceId: { exact: deviceId }, ...size } : { facingMode: 'user', ...size },
        audio: false,
      });
    } catch (e) {
      return this.fail(describeCameraError(e));
    }
    if (this.state !== 'starting') { // stopped meanwhile
      stream.getTracks().forEach((t) => t.stop());
      return;
    }
    this.stream = stream;
    const [track] = stream.getVideoTracks();
    this.deviceId = (track.getSettings && track.getSettings().deviceId) || deviceId || null;
    track.addEventListener('ended', () => {
      if (this.stream !== stream) return;
      this.stop();
      this.fail({ title: 'The camera stopped.', body: 'It was unplugged, or another app or tab took it. Press Start camera to try again.' });
    });
    video.srcObject = stream;
    try {
      await playWithin(video, this.frameTimeoutMs);
    } catch (e) {
      if (this.stream !== stream) return;
      this.stop();
      if (e.name === 'CameraTimeout') {
        return this.fail({
          title: 'The camera sends no picture.',
          body: `It started but no frame arrived within ${Math.round(this.frameTimeoutMs / 1000)} s. Another app may be holding it, or it needs reconnecting. Press Try again (or pick another camera, if there is one); images still work meanwhile.`,
        });
      }
      return this.fail({ title: 'The camera video would not play.', body: e.message });
    }
    this.setState('on');
    this.attach();
    if (!model.clf) this.showModelWait();
    this.refreshDevices();
  }

  stop() {
    this.detach();
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = null;
    const { video, msg } = this.ui();
    video.srcObject = null;
    msg.textContent = 'Camera off. Press Start camera to label things live.';
    this.setState('off');
    this.clearLabels();
    announce('Camera stopped');
  }

  fail(d) {
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = null;
    this.setState('off');
    this.ui().msg.textContent = d.title;
    showAlert($('camera-error'), { ...d, actions: [{ label: 'Try again', onClick: () => this.start() }] });
  }

  /** Shows `learner`'s labels (or ImageNet's with null) from the next frame on. */
  useLearner(learner) {
    if (this.learner === learner) return;
    this.learner = learner;
    if (this.stopWatch) this.attach();
  }

  /** Starts watch() on the current classifier (when both the camera and a model are there). */
  attach() {
    this.detach();
    if (this.state !== 'on' || !model.clf) return;
    const { video } = this.ui();
    this.times = [];
    this.stopWatch = model.clf.watch(video, (r) => this.onResult(r), {
      topk: 3,
      learner: this.learner || undefined,
      onError: (e) => { if (e.code !== 'IMAGE_DECODE') this.ui().stats.textContent = `error: ${e.code}`; },
    });
  }

  detach() {
    if (this.stopWatch) this.stopWatch();
    this.stopWatch = null;
  }

  onResult(r) {
    const now = performance.now();
    this.frames++;
    this.times.push(now);
    while (this.times.length > 2 && now - this.times[0] > 2000) this.times.shift();
    const n = this.times.length;
    this.fps = n > 1 ? ((n - 1) * 1000) / (now - this.times[0]) : 0;
    this.inferenceMs = r.timings.inferenceMs;
    // A learner's "unknown": the closest class, said to be a guess.
    const top = r.unknown && r.top.length ? [{ ...r.top[0], label: `not sure: ${r.top[0].label}?`, unknown: true }, ...r.top.slice(1)] : r.top;
    drawTopRows(this.ui().rows, top, r.top.length ? {} : { message: 'Teach a class first' });
    if (now - this.lastStats > 250 && !document.hidden) { // a readable figure: 4 updates a second
      this.lastStats = now;
      this.ui().stats.textContent = `${ms(this.inferenceMs)} · ${n > 2 ? this.fps.toFixed(1) : '–'} fps`;
    }
    if (now - this.lastAnnounce > 3000 && r.top.length) { // screen readers: the top label now and then, not every frame
      this.lastAnnounce = now;
      announce(`Camera: ${splitLabel(r.top[0].label).head}`);
    }
    this.dispatchEvent(new CustomEvent('result', { detail: r }));
  }

  async refreshDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
    let devices = [];
    try {
      devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput');
    } catch { /* leave the picker hidden */ }
    const select = $('cam-select');
    select.replaceChildren(...devices.map((d, i) => el('option', { value: d.deviceId, textContent: d.label || `Camera ${i + 1}` })));
    if (this.deviceId) select.value = this.deviceId;
    $('cam-select-wrap').hidden = devices.length < 2;
  }

  setup() {
    model.addEventListener('switch', () => this.detach());
    model.addEventListener('state', ({ detail: { state } }) => {
      if (state === 'ready') this.attach();
      else this.showModelWait();
    });
    const { button, stage } = this.ui();
    button.addEventListener('click', () => (this.state === 'off' ? this.start() : this.stop()));
    $('cam-select').addEventListener('change', (e) => {
      this.deviceId = e.target.value;
      if (this.state !== 'off') {
        this.stop();
        this.start(this.deviceId);
      }
    });
    const mirror = $('mirror');
    mirror.checked = store.get('mirror') !== '0';
    const applyMirror = () => {
      stage.classList.toggle('mirrored', mirror.checked);
      store.set('mirror', mirror.checked ? '1' : '0');
    };
    mirror.addEventListener('change', applyMirror);
    applyMirror();
    if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
      navigator.mediaDevices.addEventListener('devicechange', () => { if (this.state === 'on') this.refreshDevices(); });
    }
    // watch() pauses by itself while the tab is hidden; restart the FPS window when back.
    document.addEventListener('visibilitychange', () => {
      this.times = [];
      if (document.hidden && this.state === 'on') this.ui().stats.textContent = 'paused';
    });
    this.setState('off');
  }
}

export const camera = new Camera();
