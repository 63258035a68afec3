/* tslint:disable */
/* eslint-disable */
export const memory: WebAssembly.Memory;
export const __wbg_engine_free: (a: number, b: number) => void;
export const buildKind: () => [number, number];
export const engine_beginImage: (a: number, b: number, c: number) => [number, number];
export const engine_embedding: (a: number) => [number, number, number];
export const engine_info: (a: number) => [number, number];
export const engine_logits: (a: number) => [number, number, number];
export const engine_memoryBytes: (a: number) => number;
export const engine_new: (a: number, b: number, c: number, d: number, e: number, f: number) => [number, number, number];
export const engine_preprocessPending: (a: number) => [number, number, number];
export const engine_probabilities: (a: number) => [number, number, number];
export const engine_profile: (a: number, b: any) => [number, number, number, number];
export const engine_pushRows: (a: number, b: number, c: number, d: number, e: number, f: number) => [number, number];
export const engine_runImage: (a: number) => [number, number];
export const engine_runTensor: (a: number, b: number, c: number, d: number) => [number, number];
export const engine_topK: (a: number, b: number) => [number, number, number, number];
export const lastPanic: () => [number, number];
export const start: () => void;
export const threadCount: () => number;
export const __wbindgen_exn_store: (a: number) => void;
export const __externref_table_alloc: () => number;
export const __wbindgen_externrefs: WebAssembly.Table;
export const __wbindgen_free: (a: number, b: number, c: number) => void;
export const __wbindgen_malloc: (a: number, b: number) => number;
export const __wbindgen_realloc: (a: number, b: number, c: number, d: number) => number;
export const __externref_table_dealloc: (a: number) => void;
export const __wbindgen_start: () => void;
