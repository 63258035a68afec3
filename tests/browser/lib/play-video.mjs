// Shared by the test page (pages/runtime.html, as T.playVideo) and the benchmark page
// (bench/www/page.mjs, the watch() overhead pass); runs in the page.

/**
 * Start a <video> and wait (bounded) until it shows a frame; `repaint()` is called while waiting.
 * Not `await video.play()`: in WebKitGTK a <video> on a canvas.captureStream() whose canvas was
 * drawn before the capture began sometimes never gets a frame and its play() never settles (2-3
 * runs in 6 here); drawing the canvas again sends one.
 */
export async function playVideo(video, repaint = () => {}, timeoutMs = 15000) {
  video.play().catch(() => {});
  const t0 = performance.now();
  while (video.readyState < 2 || video.videoWidth === 0) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`the <video> shows no frame after ${timeoutMs} ms (readyState ${video.readyState})`);
    repaint();
    await new Promise((r) => setTimeout(r, 20));
  }
}
