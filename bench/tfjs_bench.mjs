// TensorFlow.js side of `npm run bench` (backend from argv: cpu | wasm). Prints JSON medians in ms.
import * as tf from '@tensorflow/tfjs-core';
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

// tfjs-core's node build registers no gradients (the umbrella @tensorflow/tfjs package does);
// bundle its registration module once. The registry lives on globalThis, so it is shared.
mkdirSync('bench/.cache', { recursive: true });
await build({ stdin: { contents: "import '@tensorflow/tfjs-core/dist/register_all_gradients';", resolveDir: process.cwd() }, bundle: true, format: 'esm', platform: 'node', outfile: 'bench/.cache/tfjs-grads.mjs', logLevel: 'error' });
await import(new URL('./.cache/tfjs-grads.mjs', import.meta.url).href);

const backend = process.argv[2] ?? 'wasm';
const QUICK = process.env.BENCH_QUICK === '1';
const REPS = QUICK ? 3 : 7;
const WARM_MS = QUICK ? 100 : 300, REP_MS = QUICK ? 10 : 25;
const TRAIN_WARM_MS = QUICK ? 100 : 2000; // training steps, as in bench/torchlet_bench.ts
const only = process.argv.slice(3);
const results = {};
const origWarn = console.warn;
console.warn = () => {};
await tf.setBackend(backend);
await tf.ready();
console.warn = origWarn;

function timeit(name, fn, reps = REPS, inner = 1) {
  if (only.length && !only.some((o) => name.startsWith(o))) return;
  try {
    tf.tidy(() => { const r = fn(); if (r) r.dataSync(); });
  } catch (e) {
    results[name] = null; // e.g. kernels this backend does not have (wasm has no conv backprop)
    results[`_${name}_error`] = String(e.message ?? e).slice(0, 120);
    return;
  }
  // same rule as bench/torchlet_bench.ts: warm up WARM_MS (TRAIN_WARM_MS for training steps), then repetitions of at least REP_MS
  const warm = name.startsWith('train_') ? TRAIN_WARM_MS : WARM_MS;
  const w0 = performance.now();
  let calls = 1;
  while (performance.now() - w0 < warm || calls < 3) { tf.tidy(() => { const r = fn(); if (r) r.dataSync(); }); calls++; }
  const per = (performance.now() - w0) / (calls - 1);
  inner = Math.max(inner, Math.ceil(REP_MS / Math.max(per, 1e-6)));
  const times = [];
  for (let k = 0; k < reps; k++) {
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) tf.tidy(() => { const r = fn(); if (r) r.dataSync(); });
    times.push((performance.now() - t0) / inner);
  }
  times.sort((a, b) => a - b);
  results[name] = times[Math.floor(times.length / 2)];
}

// matmul (tfjs has no f64 on these backends)
for (const n of QUICK ? [64, 256, 1024] : [64, 256, 512, 1024, 2048]) {
  if (backend === 'cpu' && n > 512) continue; // minutes per call
  const a = tf.randomNormal([n, n]), b = tf.randomNormal([n, n]);
  timeit(`matmul_${n}_f32`, () => tf.matMul(a, b), REPS, Math.max(1, 2048 / n / 4));
}
const N = 4 * 1024 * 1024;
const x = tf.randomNormal([N]), y = tf.randomNormal([N]);
timeit('add_4M', () => tf.add(x, y));
timeit('mul_4M', () => tf.mul(x, y));
timeit('exp_4M', () => tf.exp(x));
timeit('tanh_4M', () => tf.tanh(x));
timeit('sigmoid_4M', () => tf.sigmoid(x));
timeit('gelu_4M', () => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
timeit('sum_4M', () => tf.sum(x));
timeit('max_4M', () => tf.max(x));
const m = tf.reshape(x, [4096, 1024]);
timeit('softmax_4096x1024', () => tf.softmax(m));
timeit('logsoftmax_4096x1024', () => tf.logSoftmax(m));
const sq = tf.randomNormal([2048, 2048]);
timeit('transpose_contiguous_2048', () => tf.transpose(sq));
{
  const a = tf.randomNormal([4]), b = tf.randomNormal([4]);
  const n = QUICK ? 2000 : 10000;
  timeit('dispatch_nograd_us', () => { for (let i = 0; i < n; i++) tf.add(a, b); return null; });
  if (results.dispatch_nograd_us !== undefined) results.dispatch_nograd_us *= 1000 / n;
}
// conv (NHWC in tfjs)
const xi = tf.randomNormal([64, 28, 28, 1]);
const w1 = tf.variable(tf.randomNormal([3, 3, 1, 32], 0, 0.1));
timeit('conv2d_fwd', () => tf.conv2d(xi, w1, 1, 'same'));
timeit('conv2d_fwdbwd', () => {
  const { grads } = tf.variableGrads(() => tf.sum(tf.conv2d(xi, w1, 1, 'same')), [w1]);
  return grads[w1.name];
});
const x2 = tf.randomNormal([64, 14, 14, 32]);
const w2 = tf.randomNormal([3, 3, 32, 64], 0, 0.1);
timeit('conv2d_32to64_fwd', () => tf.conv2d(x2, w2, 1, 'same'));
timeit('batchnorm2d_fwd', () => {
  const { mean, variance } = tf.moments(x2, [0, 1, 2]);
  return tf.batchNorm(x2, mean, variance, undefined, undefined, 1e-5);
});

// training steps: MLP 784-256-128-10 (batch 64, Adam)
function dense(i, o) { const b = 1 / Math.sqrt(i); return [tf.variable(tf.randomUniform([i, o], -b, b)), tf.variable(tf.randomUniform([o], -b, b))]; }
{
  const layers = [dense(784, 256), dense(256, 128), dense(128, 10)];
  const vars = layers.flat();
  const opt = tf.train.adam(1e-3);
  const xb = tf.randomUniform([64, 784]);
  const yb = tf.oneHot(tf.randomUniform([64], 0, 10, 'int32'), 10);
  const loss = () => {
    let h = xb;
    layers.forEach(([w, b], i) => { h = tf.add(tf.matMul(h, w), b); if (i < 2) h = tf.relu(h); });
    return tf.losses.softmaxCrossEntropy(yb, h);
  };
  timeit('train_mlp_step', () => { opt.minimize(loss, false, vars); return null; }, REPS, 5);
}
{
  const c1 = tf.variable(tf.randomNormal([3, 3, 1, 32], 0, 0.1)), c2 = tf.variable(tf.randomNormal([3, 3, 32, 64], 0, 0.05));
  const [f1, b1] = dense(64 * 7 * 7, 128), [f2, b2] = dense(128, 10);
  const opt = tf.train.adam(1e-3);
  const yb = tf.oneHot(tf.randomUniform([64], 0, 10, 'int32'), 10);
  const loss = () => {
    let h = tf.maxPool(tf.relu(tf.conv2d(xi, c1, 1, 'same')), 2, 2, 'valid');
    h = tf.maxPool(tf.relu(tf.conv2d(h, c2, 1, 'same')), 2, 2, 'valid');
    h = tf.relu(tf.add(tf.matMul(tf.reshape(h, [64, -1]), f1), b1));
    return tf.losses.softmaxCrossEntropy(yb, tf.add(tf.matMul(h, f2), b2));
  };
  if (backend !== 'cpu' || !QUICK) timeit('train_cnn_step', () => { opt.minimize(loss, false, [c1, c2, f1, b1, f2, b2]); return null; }, REPS, 1);
}
results._backend = backend;
results._version = tf.version_core;
console.log(JSON.stringify(results));
