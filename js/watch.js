// watch(): classify a playing <video> continuously. Frames arriving while the engine is busy are
// dropped (the latest frame wins); nothing runs while the tab is hidden.

import { err, safeCall } from './errors.js';
import { isA } from './sources.js';

/**
 * Starts watching `video`; `classifyFrame(video)` runs one classification and resolves with its
 * result. Returns the stop function.
 */
const MEDIA_ERRORS = { 1: 'loading aborted', 2: 'network error', 3: 'cannot decode it', 4: 'source not supported or not found' };

export function watchVideo(video, onResult, options, classifyFrame) {
  if (!isA(video, 'HTMLVideoElement')) throw err('INVALID_INPUT', 'watch() needs an HTMLVideoElement');
  if (typeof onResult !== 'function') throw err('INVALID_INPUT', 'watch() needs a callback');
  const minInterval = options.maxFps > 0 ? 1000 / options.maxFps : 0;
  const rvfc = typeof video.requestVideoFrameCallback === 'function';
  let stopped = false;
  let busy = false;
  let last = -Infinity;
  let lastTime = -1;
  let handle = 0;
  let warned = false;
  const onError = (e) => {
    if (options.onError) return safeCall(options.onError, e);
    if (!warned) console.warn('mobilenetv3-wasm: watch() frame failed:', e.message);
    warned = true;
  };
  const schedule = () => {
    if (stopped) return;
    handle = rvfc ? video.requestVideoFrameCallback(tick) : requestAnimationFrame(tick);
  };
  const tick = () => {
    if (stopped) return;
    schedule();
    const now = performance.now();
    if (busy || (typeof document !== 'undefined' && document.hidden)) return;
    if (video.readyState < 2 || video.ended || now - last < minInterval) return;
    // Without video frame callbacks (older Firefox), animation frames outnumber video frames:
    // skip paused videos and frames already classified.
    if (!rvfc && (video.paused || video.currentTime === lastTime)) return;
    busy = true;
    last = now;
    lastTime = video.currentTime;
    classifyFrame(video).then(
      (r) => { if (!stopped) safeCall(onResult, r); },
      (e) => { if (!stopped && e.code !== 'DISPOSED') onError(e); },
    ).finally(() => { busy = false; });
  };
  // A <video> whose source fails (404, not a video) never has a frame: report it instead of
  // waiting silently. A <source> child's error does not bubble: listen in the capture phase.
  const onMediaError = (ev) => {
    if (stopped) return;
    const source = ev && ev.target !== video ? ev.target : null;
    if (source && source.nextElementSibling && source.nextElementSibling.localName === 'source') return; // the next <source> is tried
    const me = video.error;
    const why = me ? `${MEDIA_ERRORS[me.code] || `MediaError ${me.code}`}${me.message ? `: ${me.message}` : ''}` : 'none of its <source> elements could be loaded';
    const src = (source && source.src) || video.currentSrc || video.src || '(no source)';
    onError(err('VIDEO_SOURCE', `the video cannot play (${why}; ${src}): fix its source; watch() goes on once it plays`));
  };
  video.addEventListener('error', onMediaError, true);
  if (video.error) Promise.resolve().then(() => onMediaError());
  const onVisible = () => {
    // rAF / video frame callbacks do not run while hidden; re-arm once visible again.
    if (!stopped && !document.hidden) {
      if (rvfc) video.cancelVideoFrameCallback(handle);
      else cancelAnimationFrame(handle);
      schedule();
    }
  };
  if (typeof document !== 'undefined') document.addEventListener('visibilitychange', onVisible);
  const stop = () => {
    if (stopped) return;
    stopped = true;
    if (rvfc) video.cancelVideoFrameCallback(handle);
    else cancelAnimationFrame(handle);
    if (typeof document !== 'undefined') document.removeEventListener('visibilitychange', onVisible);
    video.removeEventListener('error', onMediaError, true);
  };
  schedule();
  return stop;
}
