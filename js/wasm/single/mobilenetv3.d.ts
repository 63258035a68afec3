/* tslint:disable */
/* eslint-disable */

export class Engine {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Start an image of `width` x `height`; rows then arrive through `push_rows`.
     */
    beginImage(width: number, height: number): void;
    embedding(): Float32Array;
    /**
     * JSON: architecture, numClasses, inputSize, embeddingSize, labels, simd, memory.
     */
    info(): string;
    logits(): Float32Array;
    /**
     * Bytes held by weights and activations.
     */
    memoryBytes(): number;
    /**
     * Load timm safetensors bytes with a timm config.json (text). An empty config uses the
     * defaults of `architecture`.
     */
    constructor(weights: Uint8Array | number[], config_json: string, architecture: string);
    /**
     * The preprocessed tensor of the pending image (for tests), without running the network.
     */
    preprocessPending(): Float32Array;
    /**
     * Finish timm's preprocessing of the image fed so far; `runImage` then runs the network on
     * it. (Separate so the caller can time the two stages; `runImage` alone does both.)
     */
    preprocess(): void;
    probabilities(): Float32Array;
    /**
     * Per-layer timing of one forward pass on a synthetic input: JSON [{name, kind, macs, ms}].
     * `now` is the caller's clock (performance.now), so the numbers are real wall time.
     */
    profile(now: Function): string;
    /**
     * Rows `y0..` of the current image, RGBA (channels = 4) or RGB (3), `stride` bytes per row.
     */
    pushRows(y0: number, pixels: Uint8Array | number[], channels: number, stride: number): void;
    /**
     * Preprocess the image fed so far (unless `preprocess` did) and run the network.
     */
    runImage(): void;
    /**
     * Run the network on an already preprocessed NHWC tensor (size x size x 3).
     */
    runTensor(input: Float32Array | number[], size: number): void;
    /**
     * JSON array of {index, label, probability} for the last result.
     */
    topK(k: number): string;
}

/**
 * "threaded" or "single": which build this is.
 */
export function buildKind(): string;

/**
 * Test hook for the runtime's crash recovery: panics on this thread, or (`in_pool`) on every
 * thread of rayon's pool (in the threaded build that leaves the caller waiting forever, which
 * the runtime's watchdog must handle).
 */
export function debugPanic(in_pool: boolean): void;

/**
 * Message of the last Rust panic in this instance, if any.
 */
export function lastPanic(): string | undefined;

export function start(): void;

/**
 * Threads in rayon's pool (1 in the single-threaded build).
 */
export function threadCount(): number;

export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

export interface InitOutput {
    readonly memory: WebAssembly.Memory;
    readonly __wbg_engine_free: (a: number, b: number) => void;
    readonly buildKind: () => [number, number];
    readonly debugPanic: (a: number) => void;
    readonly engine_beginImage: (a: number, b: number, c: number) => [number, number];
    readonly engine_embedding: (a: number) => [number, number, number];
    readonly engine_info: (a: number) => [number, number];
    readonly engine_logits: (a: number) => [number, number, number];
    readonly engine_memoryBytes: (a: number) => number;
    readonly engine_new: (a: number, b: number, c: number, d: number, e: number, f: number) => [number, number, number];
    readonly engine_preprocess: (a: number) => [number, number];
    readonly engine_preprocessPending: (a: number) => [number, number, number];
    readonly engine_probabilities: (a: number) => [number, number, number];
    readonly engine_profile: (a: number, b: any) => [number, number, number, number];
    readonly engine_pushRows: (a: number, b: number, c: number, d: number, e: number, f: number) => [number, number];
    readonly engine_runImage: (a: number) => [number, number];
    readonly engine_runTensor: (a: number, b: number, c: number, d: number) => [number, number];
    readonly engine_topK: (a: number, b: number) => [number, number, number, number];
    readonly lastPanic: () => [number, number];
    readonly start: () => void;
    readonly threadCount: () => number;
    readonly __wbindgen_exn_store: (a: number) => void;
    readonly __externref_table_alloc: () => number;
    readonly __wbindgen_externrefs: WebAssembly.Table;
    readonly __wbindgen_free: (a: number, b: number, c: number) => void;
    readonly __wbindgen_malloc: (a: number, b: number) => number;
    readonly __wbindgen_realloc: (a: number, b: number, c: number, d: number) => number;
    readonly __externref_table_dealloc: (a: number) => void;
    readonly __wbindgen_start: () => void;
}

export type SyncInitInput = BufferSource | WebAssembly.Module;

/**
 * Instantiates the given `module`, which can either be bytes or
 * a precompiled `WebAssembly.Module`.
 *
 * @param {{ module: SyncInitInput }} module - Passing `SyncInitInput` directly is deprecated.
 *
 * @returns {InitOutput}
 */
export function initSync(module: { module: SyncInitInput } | SyncInitInput): InitOutput;

/**
 * If `module_or_path` is {RequestInfo} or {URL}, makes a request and
 * for everything else, calls `WebAssembly.instantiate` directly.
 *
 * @param {{ module_or_path: InitInput | Promise<InitInput> }} module_or_path - Passing `InitInput` directly is deprecated.
 *
 * @returns {Promise<InitOutput>}
 */
export default function __wbg_init (module_or_path?: { module_or_path: InitInput | Promise<InitInput> } | InitInput | Promise<InitInput>): Promise<InitOutput>;
