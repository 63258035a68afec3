// Contender: TensorFlow.js with its WebAssembly backend (@tensorflow/tfjs-backend-wasm: XNNPACK,
// SIMD128, the threaded-SIMD binary when the page is cross-origin isolated). The network is built
// with tf.js ops from the same timm safetensors, following the resolved layer list of
// `mobilenetv3 describe` (NHWC, TF.js's native layout).
//
// Built to be as fast as the tf.js API allows, not as a strawman:
// - BatchNorm folded into the conv weights; every conv is one fused op (conv + bias + ReLU).
// - hard-swish y * relu6(y + 3) / 6 is 3 ops (add, relu6, mul): the 1/6 is folded into the
//   weights of whatever reads the activation (every reader is linear), by tracking a per-tensor
//   scale: `k` = stored value / true value.
// - the SE gate hard_sigmoid(z) = relu6(z + 3) / 6 is the fused activation of conv_expand
//   (bias + 3, relu6), its 1/6 again folded downstream.
// Classic worker (importScripts): tf.js's UMD bundles need no bundler or import map.
/* global tf */

let spawned = 0;
const NativeWorker = self.Worker;
if (NativeWorker) {
  self.Worker = class extends NativeWorker {
    constructor(...a) {
      super(...a);
      spawned++;
    }
  };
}

const CORE = '/node_modules/@tensorflow/tfjs-core/dist/';
const WASM = '/node_modules/@tensorflow/tfjs-backend-wasm/dist/';
let net = null;
let input = null;

function readSafetensors(buf) {
  const dv = new DataView(buf);
  const n = Number(dv.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 8, n)));
  const base = 8 + n;
  return (name) => {
    const t = header[name];
    if (!t) throw new Error(`safetensors: no tensor ${name}`);
    if (t.dtype !== 'F32') throw new Error(`safetensors: ${name} is ${t.dtype}, expected F32`);
    const [s, e] = t.data_offsets;
    return { shape: t.shape, data: new Float32Array(buf.slice(base + s, base + e)) };
  };
}

function buildNetwork(desc, get) {
  const eps = desc.bn_eps;
  const tensors = [];
  const keep = (t) => (tensors.push(t), t);
  const tfSame = desc.padding === 'tf_same';

  // conv (+ optional BN) folded; weights scaled by kOut / kIn; bias (+ biasAdd) scaled by kOut.
  function conv(convName, bnName, { depthwise = false, kIn = 1, kOut = 1, biasAdd = 0 } = {}) {
    const w = get(`${convName}.weight`);
    const [O, I, kh, kw] = w.shape;
    const scale = new Float32Array(O).fill(1);
    const bias = new Float32Array(O);
    if (bnName) {
      const g = get(`${bnName}.weight`).data, b = get(`${bnName}.bias`).data;
      const m = get(`${bnName}.running_mean`).data, v = get(`${bnName}.running_var`).data;
      for (let o = 0; o < O; o++) {
        scale[o] = g[o] / Math.sqrt(v[o] + eps);
        bias[o] = b[o] - m[o] * scale[o];
      }
    } else {
      const b = get(`${convName}.bias`).data;
      bias.set(b);
    }
    for (let o = 0; o < O; o++) bias[o] = (bias[o] + biasAdd) * kOut;
    const r = kOut / kIn;
    let filter;
    if (depthwise) {
      if (I !== 1) throw new Error(`${convName}: depthwise weight with ${I} input channels per group`);
      filter = new Float32Array(kh * kw * O);
      for (let o = 0; o < O; o++)
        for (let y = 0; y < kh; y++)
          for (let x = 0; x < kw; x++) filter[(y * kw + x) * O + o] = w.data[(o * kh + y) * kw + x] * scale[o] * r;
      filter = keep(tf.tensor4d(filter, [kh, kw, O, 1]));
    } else {
      filter = new Float32Array(kh * kw * I * O);
      for (let o = 0; o < O; o++)
        for (let i = 0; i < I; i++)
          for (let y = 0; y < kh; y++)
            for (let x = 0; x < kw; x++)
              filter[((y * kw + x) * I + i) * O + o] = w.data[((o * I + i) * kh + y) * kw + x] * scale[o] * r;
      filter = keep(tf.tensor4d(filter, [kh, kw, I, O]));
    }
    const pad = tfSame ? 'same' : kh === 1 ? 'valid' : Math.floor(kh / 2);
    return { filter, bias: keep(tf.tensor1d(bias)), depthwise, pad, k: kh };
  }

  function applyConv(x, p, stride, activation) {
    const args = { x, filter: p.filter, strides: [stride, stride], pad: p.pad, bias: p.bias, activation };
    return p.depthwise ? tf.fused.depthwiseConv2d(args) : tf.fused.conv2d(args);
  }

  // A conv followed by `act`; returns [op(x) -> y, kOutOfY]. kIn is x's scale.
  function convAct(convName, bnName, act, opts) {
    const { kIn = 1, stride = 1, depthwise = false, kOut } = opts;
    if (act === 'relu' || act === 'none') {
      const k = kOut || 1;
      const p = conv(convName, bnName, { depthwise, kIn, kOut: k });
      return [(x) => applyConv(x, p, stride, act === 'relu' ? 'relu' : 'linear'), k];
    }
    if (act === 'hard_swish') {
      const p = conv(convName, bnName, { depthwise, kIn, kOut: 1 });
      return [(x) => {
        const y = applyConv(x, p, stride, 'linear');
        return tf.mul(y, tf.relu6(tf.add(y, 3)));
      }, 6];
    }
    throw new Error(`activation ${act} not supported by the TF.js bench network`);
  }

  function se(prefix, seDesc, kIn) {
    if (seDesc.act !== 'relu') throw new Error(`SE activation ${seDesc.act} not supported`);
    const reduce = conv(`${prefix}.se.conv_reduce`, null, { kIn, kOut: 1 });
    const expand = conv(`${prefix}.se.conv_expand`, null, { kIn: 1, kOut: 1, biasAdd: 3 });
    // gate stored as relu6(z + 3) = 6 * hard_sigmoid(z)
    return [(x) => {
      const m = tf.mean(x, [1, 2], true);
      const r = applyConv(m, reduce, 1, 'relu');
      const g = applyConv(r, expand, 1, 'relu6');
      return tf.mul(x, g);
    }, kIn * 6];
  }

  const layers = [];
  let k = 1;
  {
    const [f, kk] = convAct('conv_stem', 'bn1', desc.act, { stride: 2 });
    layers.push(f);
    k = kk;
  }
  for (const b of desc.blocks) {
    const p = b.prefix;
    const kBlockIn = k;
    const ops = [];
    if (b.kind === 'depthwise_separable') {
      let [f, kk] = convAct(`${p}.conv_dw`, `${p}.bn1`, b.act, { kIn: k, stride: b.stride, depthwise: true });
      ops.push(f);
      if (b.se) {
        const [g, k2] = se(p, b.se, kk);
        ops.push(g);
        kk = k2;
      }
      const [h, k3] = convAct(`${p}.conv_pw`, `${p}.bn2`, b.pw_act ? b.act : 'none', { kIn: kk, kOut: b.skip && !b.pw_act ? kBlockIn : undefined });
      ops.push(h);
      k = k3;
    } else if (b.kind === 'inverted_residual') {
      let [f, kk] = convAct(`${p}.conv_pw`, `${p}.bn1`, b.act, { kIn: k });
      ops.push(f);
      const [g, k2] = convAct(`${p}.conv_dw`, `${p}.bn2`, b.act, { kIn: kk, stride: b.stride, depthwise: true });
      ops.push(g);
      kk = k2;
      if (b.se) {
        const [s, k3] = se(p, b.se, kk);
        ops.push(s);
        kk = k3;
      }
      const [h, k4] = convAct(`${p}.conv_pwl`, `${p}.bn3`, 'none', { kIn: kk, kOut: b.skip ? kBlockIn : undefined });
      ops.push(h);
      k = k4;
    } else if (b.kind === 'conv_bn_act') {
      const [f, kk] = convAct(`${p}.conv`, `${p}.bn1`, b.act, { kIn: k, stride: b.stride });
      ops.push(f);
      k = kk;
    } else {
      throw new Error(`block kind ${b.kind} not supported by the TF.js bench network`);
    }
    if (b.skip) {
      if (k !== kBlockIn) throw new Error(`${p}: residual with mismatched scales ${k} vs ${kBlockIn}`);
      layers.push((x) => tf.add(ops.reduce((y, op) => op(y), x), x));
    } else {
      layers.push((x) => ops.reduce((y, op) => op(y), x));
    }
  }
  // Head: global average pool -> conv_head (+ bias) -> act -> flatten -> classifier.
  const [head, kh] = convAct('conv_head', null, desc.act, { kIn: k });
  const cw = get('classifier.weight');
  const [C, F] = cw.shape;
  const wt = new Float32Array(F * C);
  for (let c = 0; c < C; c++) for (let f = 0; f < F; f++) wt[f * C + c] = cw.data[c * F + f] / kh;
  const clsW = keep(tf.tensor2d(wt, [F, C]));
  const clsB = keep(tf.tensor1d(get('classifier.bias').data));
  layers.push((x) => {
    const pooled = tf.mean(x, [1, 2], true);
    const h = head(pooled);
    return tf.fused.matMul({ a: tf.reshape(h, [1, F]), b: clsW, bias: clsB });
  });
  return {
    predict: (x) => tf.tidy(() => layers.reduce((y, f) => f(y), x)),
    dispose: () => tensors.forEach((t) => t.dispose()),
  };
}

async function init({ threads, model, hardwareConcurrency }) {
  if (hardwareConcurrency) {
    // TF.js sizes its XNNPACK pool from navigator.hardwareConcurrency / 2 (at least 1, at most 4).
    Object.defineProperty(self.navigator, 'hardwareConcurrency', { get: () => hardwareConcurrency, configurable: true });
  }
  importScripts(`${CORE}tf-core.min.js`, `${WASM}tf-backend-wasm.min.js`);
  tf.wasm.setWasmPaths(new URL(WASM, self.location.href).href);
  if (threads !== 'default') tf.wasm.setThreadsCount(threads);
  if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") failed');
  await tf.ready();
  const buf = await (await fetch(model.weightsUrl)).arrayBuffer();
  net = buildNetwork(model.layers, readSafetensors(buf));
  return {
    version: tf.version_core,
    backend: tf.getBackend(),
    threadsCount: tf.wasm.getThreadsCount(),
    simd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
    multithread: await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
    hardwareConcurrency: navigator.hardwareConcurrency,
    workersSpawned: spawned,
  };
}

function once() {
  const y = net.predict(input);
  const data = y.dataSync();
  y.dispose();
  return data;
}

const handlers = {
  init,
  infer({ tensor, size }) {
    if (input) input.dispose();
    input = tf.tensor4d(tensor, [1, size, size, 3]);
    return { logits: once(), workersSpawned: spawned };
  },
  time({ warmup, iters }) {
    let sink = 0;
    for (let i = 0; i < warmup; i++) sink += once()[0];
    const times = new Float64Array(iters);
    for (let i = 0; i < iters; i++) {
      const t0 = performance.now();
      sink += once()[0];
      times[i] = performance.now() - t0;
    }
    return { times: Array.from(times), sink, numTensors: tf.memory().numTensors };
  },
};

self.onmessage = async ({ data }) => {
  try {
    const result = await handlers[data.cmd](data);
    self.postMessage({ id: data.id, ok: true, result });
  } catch (e) {
    self.postMessage({ id: data.id, ok: false, error: String(e && e.stack || e) });
  }
};
