// Image sources (img, canvas, video, ImageBitmap, ImageData, VideoFrame, Blob) -> what the worker receives.

import { err, MobileNetV3Error } from './errors.js';

const DECODE_OPTIONS = { colorSpaceConversion: 'none', premultiplyAlpha: 'none' };

export const isA = (v, name) => typeof globalThis[name] === 'function' && v instanceof globalThis[name];

function videoFrame(video) {
  if (typeof VideoFrame !== 'function') return null;
  try {
    return new VideoFrame(video);
  } catch (e) {
    // A cross-origin video without CORS is refused here as by createImageBitmap: say so.
    if (e && e.name === 'SecurityError') throw e;
    return null;
  }
}

/**
 * Turns a source into what the worker receives (transferring what can be transferred).
 * `spare`: an ArrayBuffer the worker handed back after an earlier ImageData, reused for this
 * one's copy when it is large enough.
 */
export async function toWire(src, spare = null) {
  if (isA(src, 'Blob')) return { source: { kind: 'blob', blob: src }, transfer: [] };
  if (isA(src, 'ImageData')) {
    // A copy of the pixels is transferred (and comes back with the result for the next call):
    // the caller's buffer is never detached.
    const n = src.width * src.height * 4;
    if (src.data.length < n) throw err('INVALID_INPUT', 'ImageData is shorter than width x height x 4');
    const data = new Uint8Array(spare && spare.byteLength >= n ? spare : new ArrayBuffer(n), 0, n);
    data.set(src.data.subarray(0, n));
    return { source: { kind: 'rgba', width: src.width, height: src.height, data }, transfer: [data.buffer] };
  }
  if (isA(src, 'VideoFrame')) {
    let frame;
    try {
      frame = src.clone();
    } catch (e) {
      throw err('IMAGE_DECODE', `the VideoFrame is closed: ${e.message}`);
    }
    return { source: { kind: 'frame', frame }, transfer: [frame], cleanup: () => frame.close() };
  }
  let bitmap;
  try {
    if (isA(src, 'HTMLImageElement')) {
      if (!src.complete || !src.naturalWidth) {
        try {
          await src.decode();
        } catch (e) {
          throw err('IMAGE_DECODE', `the <img> could not be decoded (${src.currentSrc || src.src || 'no src'}): ${e.message}`);
        }
      }
      bitmap = await createImageBitmap(src, DECODE_OPTIONS);
    } else if (isA(src, 'HTMLVideoElement')) {
      if (src.readyState < 2 || !src.videoWidth) {
        throw err('IMAGE_DECODE', `the <video> has no frame yet (readyState ${src.readyState})`);
      }
      // The current frame as a VideoFrame: a handle, no copy (the worker copies the pixels it
      // needs straight into wasm memory); an ImageBitmap copy where VideoFrame is missing.
      const frame = videoFrame(src);
      if (frame) return { source: { kind: 'frame', frame }, transfer: [frame], cleanup: () => frame.close() };
      bitmap = await createImageBitmap(src);
    } else if (isA(src, 'HTMLCanvasElement') || isA(src, 'OffscreenCanvas')) {
      if (!src.width || !src.height) throw err('IMAGE_DECODE', `the canvas is ${src.width}x${src.height} pixels`);
      bitmap = await createImageBitmap(src, DECODE_OPTIONS);
    } else if (isA(src, 'ImageBitmap')) {
      if (!src.width || !src.height) throw err('IMAGE_DECODE', 'the ImageBitmap is empty or closed');
      bitmap = await createImageBitmap(src, DECODE_OPTIONS); // a copy: the caller keeps theirs
    } else {
      throw err('INVALID_INPUT', `cannot classify ${Object.prototype.toString.call(src)}: pass an image, canvas, video, ImageBitmap, ImageData, VideoFrame or Blob`);
    }
  } catch (e) {
    if (e instanceof MobileNetV3Error) throw e;
    throw err('IMAGE_DECODE', `could not read the pixels of the source: ${e.message}`, { cause: e });
  }
  return { source: { kind: 'bitmap', bitmap }, transfer: [bitmap], cleanup: () => bitmap.close() };
}

