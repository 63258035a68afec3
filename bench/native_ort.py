#!/usr/bin/env python3
"""Native reference point: onnxruntime (PyPI) on the CPU, one intra-op thread, on the bench ONNX.

Prints one JSON line: {"model", "threads", "iters", "min_ms", "median_ms", "p90_ms", "version"}.
The input is the same deterministic pattern as `mobilenetv3 bench` uses (NHWC i*7919 % 255 / 127.5
- 1, transposed to NCHW), so both native numbers time the same work.

    python3 bench/native_ort.py bench/cache/mobilenetv3_large_100.onnx [--threads 1] [--iters 50] [--warmup 10]
"""
import argparse
import json
import time

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("onnx")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--size", type=int, default=224)
    a = ap.parse_args()

    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(a.onnx, so, providers=["CPUExecutionProvider"])
    n = a.size
    nhwc = ((np.arange(n * n * 3, dtype=np.int64) * 7919) % 255).astype(np.float32) / 127.5 - 1.0
    x = np.ascontiguousarray(nhwc.reshape(1, n, n, 3).transpose(0, 3, 1, 2))
    name = sess.get_inputs()[0].name
    for _ in range(a.warmup):
        sess.run(None, {name: x})
    times = []
    for _ in range(a.iters):
        t = time.perf_counter()
        sess.run(None, {name: x})
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()

    def q(p):
        return times[round((len(times) - 1) * p)]

    print(json.dumps({"model": a.onnx, "threads": a.threads, "iters": a.iters, "min_ms": times[0],
                      "median_ms": q(0.5), "p90_ms": q(0.9), "version": ort.__version__}))


if __name__ == "__main__":
    main()
