// mobilenetv3-wasm: public API (the contract; hand-written, keep in sync with index.js).
//
// Everything numeric runs in a dedicated Worker (threaded SIMD wasm when the page is
// cross-origin isolated, single-threaded SIMD wasm otherwise); the main thread never blocks.

/** Error codes carried by every error this package rejects with (`err.code`). */
export type ErrorCode =
  /** Weights or config could not be downloaded (network error, HTTP status (see `status`), an
   *  HTML page instead of the file, no data for `timeoutMs`). */
  | 'WEIGHTS_FETCH'
  /** The downloaded (or cached, or given) bytes are not the expected file: size or SHA-256
   *  differs from models.json's pin or the `sha256` option; or crypto.subtle is missing (not a
   *  secure context) so they cannot be checked. Nothing is cached. */
  | 'WEIGHTS_INTEGRITY'
  /** A download without an expected size grew past its cap (Content-Length or models.json's
   *  approximate size + 25 %, at most 256 MiB for weights, 16 MiB for a config). */
  | 'WEIGHTS_TOO_LARGE'
  /** Not a valid safetensors file for the architecture: bad header, missing tensor, wrong shape, truncated. */
  | 'WEIGHTS_FORMAT'
  /** The config names an architecture this engine does not implement. */
  | 'UNSUPPORTED_ARCH'
  /** The config.json is malformed (not JSON, missing fields, unknown model name). */
  | 'CONFIG'
  /** The source could not be turned into pixels: not an image, zero-size canvas, video without a frame, tainted cross-origin image. */
  | 'IMAGE_DECODE'
  /** Bad argument (e.g. `topk` not a positive integer, unsupported source type). */
  | 'INVALID_INPUT'
  /** watch(): the video's source cannot play (not found, not a video, unsupported). */
  | 'VIDEO_SOURCE'
  /** The image declares more than 67,108,864 pixels (8192 x 8192) or a side over 32768: refused before decoding. */
  | 'IMAGE_TOO_LARGE'
  /** The model's memory (activations for its input size) does not fit in this build's wasm memory; raised by `createClassifier`. */
  | 'OUT_OF_MEMORY'
  /** The operation's AbortSignal fired. */
  | 'ABORTED'
  /** The classifier was disposed (before or during the call). */
  | 'DISPOSED'
  /** The engine crashed (Rust panic / wasm trap). The message includes the panic text. The
   *  classifier restarts its worker by itself; the next call works normally. */
  | 'INTERNAL'
  /** The worker did not answer within `timeoutMs`; it was terminated and will be restarted. */
  | 'TIMEOUT'
  /** This browser lacks WebAssembly SIMD128 (or Workers / OffscreenCanvas). */
  | 'UNSUPPORTED_BROWSER'
  /** The page's (or worker's) Content-Security-Policy forbids compiling WebAssembly: its
   *  script-src directive needs 'wasm-unsafe-eval'. */
  | 'CSP_BLOCKED'
  /** Learner: classify() before any example was added. */
  | 'NO_EXAMPLES'
  /** Learner: a label that is not a string, is empty (after trimming) or has over 100 characters;
   *  renaming onto an existing label or from a missing one. */
  | 'INVALID_LABEL'
  /** Learner: `from` is not a state written by toJSON() (not JSON, other format or version, corrupt examples). */
  | 'LEARNER_STATE'
  /** Learner: the state was learned with another model (architecture, weights or embedding size). */
  | 'LEARNER_MODEL_MISMATCH'
  /** learnerStore: IndexedDB is unavailable or failed (private mode, quota). */
  | 'STORAGE';

export declare class MobileNetV3Error extends Error {
  readonly name: 'MobileNetV3Error';
  readonly code: ErrorCode;
  /** HTTP status for WEIGHTS_FETCH when the server answered. */
  readonly status?: number;
  /** URL involved, for WEIGHTS_FETCH. */
  readonly url?: string;
  /** Rust panic message, for INTERNAL. */
  readonly panic?: string;
  /** The underlying error, when there is one. */
  readonly cause?: unknown;
}

/** A known model from weights/models.json. */
export interface ModelEntry {
  /** Key in MODELS: the architecture for timm's default tag ('mobilenetv3_large_100'), else
   *  'architecture.tag' ('mobilenetv3_large_100.miil_in21k_ft_in1k'). */
  name: string;
  /** timm architecture name, e.g. 'mobilenetv3_large_100'. */
  architecture: string;
  /** timm pretrained tag, e.g. 'ra_in1k'. */
  tag: string;
  weightsUrl: string;
  configUrl: string;
  /** Hugging Face commit the URLs are pinned to (40 hex digits), when pinned. */
  revision?: string;
  /** Exact size and SHA-256 (hex) of model.safetensors / config.json at `revision`, where
   *  known: the runtime refuses other bytes (WEIGHTS_INTEGRITY). */
  weightsBytes?: number;
  weightsSha256?: string;
  configBytes?: number;
  configSha256?: string;
  /** Approximate size of model.safetensors in bytes. */
  bytes: number;
  license: string;
  inputSize: number;
  /** ImageNet-1k validation top-1 / top-5 (%) as reported by timm (results-imagenet.csv). */
  top1: number;
  top5: number;
}

/** Known models, keyed by name (the default is 'mobilenetv3_large_100'). `model` also accepts
 *  timm's full 'architecture.tag' for every entry. */
export declare const MODELS: Readonly<Record<string, ModelEntry>>;
export declare const DEFAULT_MODEL: 'mobilenetv3_large_100';

export interface LoadProgress {
  phase: 'download' | 'compile' | 'init';
  /** Bytes downloaded for 'download'; 0 then 1 for 'compile' and 'init' (start, done). */
  loaded: number;
  /** Total bytes when known (Content-Length); 1 for 'compile' and 'init'. */
  total?: number;
  /** 'download' only: true when the bytes came from the Cache API. */
  cached?: boolean;
}

export interface CreateClassifierOptions {
  /** Name from MODELS. Default 'mobilenetv3_large_100'. */
  model?: string;
  /** Override the weights: URL of a timm model.safetensors, or its bytes. */
  weights?: string | URL | ArrayBuffer | ArrayBufferView | Blob;
  /** SHA-256 of the weights (64 hex digits): other bytes reject with WEIGHTS_INTEGRITY and are
   *  not cached. Needs a secure context (crypto.subtle). Known models carry their own. */
  sha256?: string;
  /** Override the config: URL of timm's config.json, its text, or the parsed object. */
  config?: string | URL | object;
  /** Worker threads for inference. 'auto' (default) = min(navigator.hardwareConcurrency, 4); when
   *  that is more than 2, the worker times a forward pass with 1, 2, ... of them and keeps the
   *  fastest (browsers can overstate the cores: WebKit reports 4 on 2); info.buildReason says so.
   *  Threads need a cross-origin isolated page (COOP + COEP headers); otherwise, or with
   *  threads <= 1, the single-threaded build is used. */
  threads?: number | 'auto';
  /** Keep downloaded weights/config in the Cache API and reuse them. Default true. */
  cache?: boolean;
  onProgress?: (e: LoadProgress) => void;
  /** Aborts the download / initialisation (rejects with code ABORTED). */
  signal?: AbortSignal;
  /** Watchdog for one worker call, in ms (default 30000; initialisation gets 4x). On expiry the
   *  call rejects with TIMEOUT and the worker is restarted. Also the idle timeout of the
   *  downloads: no data for that long rejects with WEIGHTS_FETCH. */
  timeoutMs?: number;
}

/** Anything that holds pixels. Images are decoded by the browser (EXIF orientation applied,
 *  embedded color profiles ignored). Nothing the caller passes is detached, closed or changed:
 *  an ImageData's pixels are copied to the worker, elements and bitmaps are copied to an
 *  ImageBitmap, a VideoFrame is cloned, a <video>'s current frame is taken as a new VideoFrame. */
export type ImageSource =
  | HTMLImageElement
  | HTMLCanvasElement
  | OffscreenCanvas
  | HTMLVideoElement
  | ImageBitmap
  | ImageData
  | VideoFrame
  | Blob
  | File;

export interface Prediction {
  /** ImageNet class index (0..numClasses-1). */
  index: number;
  label: string;
  probability: number;
}

export interface Timings {
  /** Worker: getting pixels (decode/draw/readback into wasm memory) + timm's resize/crop/normalize. */
  preprocessMs: number;
  /** Worker: the network forward pass + softmax. */
  inferenceMs: number;
  /** Caller's wall time from classify() to the resolved promise (queue wait included). */
  totalMs: number;
}

export interface ClassifyResult {
  top: Prediction[];
  timings: Timings;
  /** Width and height of the pixels the engine received. */
  width: number;
  height: number;
}

export interface ClassifyOptions {
  /** Number of classes returned, default 5 (1..numClasses). */
  topk?: number;
  signal?: AbortSignal;
}

export interface WatchOptions {
  /** Default 3. */
  topk?: number;
  /** Upper bound on classified frames per second (default: as fast as the engine allows). */
  maxFps?: number;
  /** Called for a frame that fails, and with VIDEO_SOURCE when the video's source cannot play.
   *  Default: ignored after a console.warn. */
  onError?: (err: MobileNetV3Error) => void;
  /** Show this learner's custom labels instead of ImageNet's (results are LearnerResults; with no
   *  examples yet, `top` is empty and `unknown` true). Must come from this classifier. */
  learner?: Learner;
}

export interface ClassifierInfo {
  model: string;
  architecture: string;
  numClasses: number;
  inputSize: number;
  /** Size of the pooled feature vector returned by embed(). */
  embeddingSize: number;
  /** Threads doing inference (1 for the single-threaded build). */
  threads: number;
  /** SIMD backend of the engine: 'wasm-relaxed-simd' (fused multiply-add) or 'wasm-simd128'. */
  simd: string;
  crossOriginIsolated: boolean;
  build: 'threaded' | 'single';
  /** Why this build was chosen, e.g. 'single: the page is not crossOriginIsolated (...)', or
   *  'single: the threaded build failed to start (...)' when creating its shared memory or its
   *  worker pool threw. */
  buildReason: string;
  /** What the browser offered when the classifier was created (see capabilities()). */
  capabilities: Capabilities;
  labels: string[];
  /** Bytes of the network's parameters. */
  paramBytes: number;
  /** Multiply-accumulates of one forward pass at inputSize. */
  macs: number;
}

export interface Classifier {
  readonly info: ClassifierInfo;
  /** Classify one image. Concurrent calls queue (one runs at a time). */
  classify(source: ImageSource, options?: ClassifyOptions): Promise<ClassifyResult>;
  /** Pooled features (the input of the classifier layer), length info.embeddingSize. */
  embed(source: ImageSource, options?: { signal?: AbortSignal }): Promise<Float32Array>;
  /** Live classification of a playing video. The latest frame wins: frames arriving while the
   *  engine is busy are dropped; it pauses while the document is hidden. Returns stop(). */
  watch(video: HTMLVideoElement, onResult: (r: ClassifyResult) => void, options?: WatchOptions): () => void;
  watch(video: HTMLVideoElement, onResult: (r: LearnerResult) => void, options: WatchOptions & { learner: Learner }): () => void;
  /** A few-shot learner of your own classes on this classifier's features (see Learner). */
  createLearner(options?: LearnerOptions): Promise<Learner>;
  /** Terminates the worker, stops every watch, rejects pending calls with DISPOSED. Idempotent. */
  dispose(): void;
}

export interface LearnerOptions {
  /** Restore a state from toJSON() (the object or its JSON text). Refused with LEARNER_MODEL_MISMATCH
   *  when it was learned with another model, LEARNER_STATE when it is not a valid state. */
  from?: LearnerState | string;
  /** Below this cosine similarity between the image's embedding and the nearest single example's,
   *  results say `unknown: true` (top is still filled). 0..1, default 0.5: frames of a taught
   *  object score ~0.8-0.95, unrelated things ~0.1-0.4; lower it (e.g. 0.2) for classes taught
   *  with very diverse examples, 0 disables it. Restored from `from` unless given. */
  threshold?: number;
  /** 'semantic' (default): normalized embedding (weight 0.3) + sqrt of the ImageNet probabilities
   *  summed over runs of 25 consecutive classes (ImageNet's WordNet order keeps related classes
   *  together: a coarse "kind of thing" signal); 'centered': embedding minus the mean of the class
   *  means, normalized (SimpleShot); 'cosine': normalized embedding. Class prototypes (mean
   *  feature), nearest by cosine. No training step. */
  method?: 'semantic' | 'centered' | 'cosine';
}

export interface LearnerPrediction {
  label: string;
  /** Softmax over the classes' cosine scores (sums to 1 over all classes). */
  probability: number;
  /** Cosine similarity to the class prototype in feature space. */
  score: number;
}

export interface LearnerResult {
  top: LearnerPrediction[];
  /** True when the image is not close to any class (similarity < threshold). */
  unknown: boolean;
  /** Cosine similarity of the image's embedding to the nearest example's. */
  similarity: number;
  timings: Timings & { /** Main thread: scoring against the classes. */ predictMs: number };
  width: number;
  height: number;
}

/** Plain JSON, versioned; examples are base64 float32 embeddings + the 32 largest ImageNet probabilities. */
export interface LearnerState {
  format: 'mobilenetv3-wasm/learner';
  version: 1;
  model: string;
  architecture: string;
  embeddingSize: number;
  numClasses: number;
  method: 'semantic' | 'centered' | 'cosine';
  threshold: number;
  classes: { label: string; examples: { embedding: string; probs: { index: string; value: string } }[] }[];
}

export interface Learner {
  /** Class names in the order they were first taught. */
  readonly labels: string[];
  /** Examples per class. */
  readonly counts: Record<string, number>;
  /** Total examples. */
  readonly size: number;
  readonly method: 'semantic' | 'centered' | 'cosine';
  readonly threshold: number;
  readonly disposed: boolean;
  setThreshold(threshold: number): void;
  /** One forward pass; the label is trimmed. Resolves once learned (a new label makes a new class).
   *  Nothing is added when it fails. */
  addExample(source: ImageSource, label: string, options?: { signal?: AbortSignal }): Promise<{ label: string; count: number; timings: Timings }>;
  /** One forward pass + scoring (microseconds). topk default 3. Rejects with NO_EXAMPLES before any example. */
  classify(source: ImageSource, options?: ClassifyOptions): Promise<LearnerResult>;
  /** Removes a class; false if there was none. */
  removeLabel(label: string): boolean;
  /** Removes example `index` (0 = oldest) of `label` (and the class with its last example); false if none. */
  removeExample(label: string, index: number): boolean;
  renameLabel(from: string, to: string): void;
  /** Forgets every class. */
  clear(): void;
  toJSON(): LearnerState;
  /** Stops this learner (calls then reject with DISPOSED); also the case once its classifier is disposed. */
  dispose(): void;
}

/** Learner states kept in this origin's IndexedDB, by name (errors: STORAGE). */
export declare const learnerStore: {
  save(name: string, learner: Learner | LearnerState): Promise<void>;
  /** The state, or null when none has that name. Restore with createLearner({ from }). */
  load(name: string): Promise<LearnerState | null>;
  list(): Promise<string[]>;
  /** True if there was one. */
  delete(name: string): Promise<boolean>;
};

/** What this browser offers the engine, and the build createClassifier({ threads: 'auto' }) starts. */
export interface Capabilities {
  /** WebAssembly SIMD128 (required: without it createClassifier rejects with UNSUPPORTED_BROWSER). */
  simd128: boolean;
  /** WebAssembly relaxed SIMD (Chromium, Firefox 145+; not WebKit). */
  relaxedSimd: boolean;
  /** SharedArrayBuffer exists (WebKitGTK hides it even on isolated pages; Safari shows it there). */
  sharedArrayBuffer: boolean;
  /** The page is cross-origin isolated (COOP/COEP, or the isolate-sw.js service worker). */
  crossOriginIsolated: boolean;
  workers: boolean;
  offscreenCanvas: boolean;
  videoFrame: boolean;
  /** HTMLVideoElement.requestVideoFrameCallback (watch() uses requestAnimationFrame without it). */
  requestVideoFrameCallback: boolean;
  /** navigator.hardwareConcurrency (WebKitGTK reports 4 whatever the machine). */
  hardwareConcurrency: number;
  /** The build createClassifier({ threads: 'auto' }) starts here ... */
  build: 'threaded' | 'single';
  /** ... and why, e.g. 'single: SharedArrayBuffer is unavailable'. */
  buildReason: string;
}

/** What this browser offers the engine (synchronous, no worker started). */
export declare function capabilities(): Capabilities;

export declare function createClassifier(options?: CreateClassifierOptions): Promise<Classifier>;

/** Deletes the weights/config this package stored in the Cache API. Resolves to true if anything was removed. */
export declare function clearCache(): Promise<boolean>;
