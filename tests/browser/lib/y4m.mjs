// Fake-camera videos for Chromium (--use-file-for-fake-video-capture=FILE.y4m), made from a photo
// with Node only: the browser decodes the photo (no Python, no ffmpeg), Node writes YUV4MPEG2 C420.
//
//   import { photoToY4m } from './lib/y4m.mjs';
//   const file = await photoToY4m(browser, '/path/photo.jpg', { width: 640, height: 480, frames: 30 });
//   const cam = await launchChromium({ fakeVideo: file });
//
// photoToY4m(browser, photo, opts): any launched Chromium decodes `photo`; it is scaled to fit the
// frame (aspect kept, centered on mid-gray) and written as `frames` identical frames at `fps`.
// Chromium loops the file, so a short file gives an endless camera. Returns the .y4m path (in
// opts.dir or a fresh temp dir). writeY4m(path, rgba, w, h, opts) writes RGBA pixels directly.

import { mkdtempSync, readFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** RGBA (w x h, even sizes) -> one I420 frame (BT.601 limited range, what Chromium expects). */
export function rgbaToI420(rgba, w, h) {
  const y = Buffer.alloc(w * h);
  const u = Buffer.alloc((w / 2) * (h / 2));
  const v = Buffer.alloc((w / 2) * (h / 2));
  for (let i = 0, p = 0; i < w * h; i++, p += 4) {
    y[i] = Math.round(16 + 0.257 * rgba[p] + 0.504 * rgba[p + 1] + 0.098 * rgba[p + 2]);
  }
  for (let j = 0; j < h / 2; j++) {
    for (let i = 0; i < w / 2; i++) {
      let r = 0, g = 0, b = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        const p = ((2 * j + dy) * w + 2 * i + dx) * 4;
        r += rgba[p];
        g += rgba[p + 1];
        b += rgba[p + 2];
      }
      r /= 4; g /= 4; b /= 4;
      u[j * (w / 2) + i] = Math.round(128 - 0.148 * r - 0.291 * g + 0.439 * b);
      v[j * (w / 2) + i] = Math.round(128 + 0.439 * r - 0.368 * g - 0.071 * b);
    }
  }
  return Buffer.concat([y, u, v]);
}

export function writeY4m(file, rgba, width, height, { frames = 30, fps = 30 } = {}) {
  if (width % 2 || height % 2) throw new Error('Y4M C420 needs even width and height');
  const frame = rgbaToI420(rgba, width, height);
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, `YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg\n`);
    for (let i = 0; i < frames; i++) {
      writeSync(fd, 'FRAME\n');
      writeSync(fd, frame);
    }
  } finally {
    closeSync(fd);
  }
  return file;
}

export async function photoToY4m(browser, photo, { width = 640, height = 480, frames = 30, fps = 30, dir } = {}) {
  const page = await browser.newPage();
  try {
    const b64 = readFileSync(photo).toString('base64');
    const rgbaB64 = await page.evaluate(async ({ b64, width, height }) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const bmp = await createImageBitmap(new Blob([bytes]));
      const c = new OffscreenCanvas(width, height);
      const ctx = c.getContext('2d');
      ctx.fillStyle = 'rgb(128,128,128)';
      ctx.fillRect(0, 0, width, height);
      const s = Math.min(width / bmp.width, height / bmp.height);
      const w = Math.round(bmp.width * s), h = Math.round(bmp.height * s);
      ctx.drawImage(bmp, (width - w) >> 1, (height - h) >> 1, w, h);
      const data = ctx.getImageData(0, 0, width, height).data;
      let bin = '';
      for (let i = 0; i < data.length; i += 0x8000) bin += String.fromCharCode(...data.subarray(i, i + 0x8000));
      return btoa(bin);
    }, { b64, width, height });
    const out = path.join(dir || mkdtempSync(path.join(tmpdir(), 'mnv3-cam-')), `${path.parse(photo).name}-${width}x${height}.y4m`);
    return writeY4m(out, Buffer.from(rgbaB64, 'base64'), width, height, { frames, fps });
  } finally {
    await page.close();
  }
}
