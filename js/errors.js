// Errors and small promise/callback helpers shared by the main-thread modules.

export class MobileNetV3Error extends Error {
  constructor(code, message, extra = {}) {
    super(message, extra.cause !== undefined ? { cause: extra.cause } : undefined);
    this.name = 'MobileNetV3Error';
    this.code = code;
    for (const k of ['status', 'url', 'panic']) if (extra[k] !== undefined) this[k] = extra[k];
  }
}

export const err = (code, message, extra) => new MobileNetV3Error(code, message, extra);
export const aborted = (what) => err('ABORTED', `${what} was aborted`);
export const disposedError = () => err('DISPOSED', 'the classifier was disposed');

export function safeCall(fn, arg) {
  if (!fn) return;
  try {
    fn(arg);
  } catch (e) {
    console.error('mobilenetv3-wasm: callback threw', e);
  }
}

/** Rejects with ABORTED as soon as `signal` fires (the work itself is cancelled elsewhere). */
export function raceAbort(promise, signal, what) {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(aborted(what));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(aborted(what));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

