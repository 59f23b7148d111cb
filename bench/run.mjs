// `npm run bench`: runs the same workloads in torchlet, PyTorch (Debian's python3-torch) and
// TensorFlow.js (cpu and wasm backends), each in its own process, several repetitions each
// (medians), then prints time ratios and writes bench/results/<host>-<date>.json.
// Options: BENCH_QUICK=1 (fewer sizes/reps), BENCH_ROUNDS=N (whole-suite rounds, median of rounds).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';

const PY = process.env.BENCH_PYTHON ?? '/usr/bin/python3';
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const filter = process.argv.slice(2);

function runJson(label, cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 26 });
  if (r.status !== 0) {
    console.error(`bench: ${label} failed (exit ${r.status}):\n${(r.stderr || '').slice(-2000)}`);
    return null;
  }
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  try { return JSON.parse(line); } catch { console.error(`bench: ${label} printed no JSON`); return null; }
}

const haveTorch = spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
if (!haveTorch) console.error(`bench: PyTorch not found for ${PY}; install it with: sudo apt-get install python3-torch (PyTorch columns will be empty)`);
const haveTfjs = existsSync('node_modules/@tensorflow/tfjs-core') && existsSync('node_modules/@tensorflow/tfjs-backend-wasm');
if (!haveTfjs) console.error('bench: TensorFlow.js not installed; run npm ci (it is a devDependency)');

const systems = {
  torchlet: () => runJson('torchlet', process.execPath, ['--import=tsx', 'bench/torchlet_bench.ts', ...filter]),
  pytorch: () => (haveTorch ? runJson('pytorch', PY, ['bench/pytorch_bench.py', ...filter]) : null),
  tfjs_wasm: () => (haveTfjs ? runJson('tfjs-wasm', process.execPath, ['bench/tfjs_bench.mjs', 'wasm', ...filter]) : null),
  tfjs_cpu: () => (haveTfjs && process.env.BENCH_TFJS_CPU !== '0' ? runJson('tfjs-cpu', process.execPath, ['bench/tfjs_bench.mjs', 'cpu', ...filter]) : null),
};
// interleave systems within each round so machine noise hits all of them alike
const perRound = [];
for (let r = 0; r < rounds; r++) {
  const round = {};
  for (const [name, fn] of Object.entries(systems)) { process.stderr.write(`round ${r + 1}/${rounds}: ${name}...\n`); round[name] = fn(); }
  perRound.push(round);
}
const rss = {
  torchlet: runJson('torchlet rss', process.execPath, ['--import=tsx', 'bench/torchlet_bench.ts'], { BENCH_RSS_ONLY: '1' })?.rss_mlp_mb ?? null,
  pytorch: haveTorch ? runJson('pytorch rss', PY, ['bench/pytorch_bench.py'], { BENCH_RSS_ONLY: '1' })?.rss_mlp_mb ?? null : null,
};

const median = (xs) => { const v = xs.filter((x) => typeof x === 'number').sort((a, b) => a - b); return v.length ? v[Math.floor(v.length / 2)] : null; };
const names = new Set();
for (const round of perRound) for (const sys of Object.values(round)) if (sys) for (const k of Object.keys(sys)) if (!k.startsWith('_')) names.add(k);
const table = {};
for (const n of names) {
  const row = {};
  for (const sys of Object.keys(systems)) row[sys] = median(perRound.map((r) => r[sys]?.[n]));
  row.ratio_pytorch = row.torchlet && row.pytorch ? row.torchlet / row.pytorch : null;
  row.ratio_tfjs_wasm = row.torchlet && row.tfjs_wasm ? row.torchlet / row.tfjs_wasm : null;
  table[n] = row;
}
const fmt = (v, d = 3) => (v === null || v === undefined ? '—' : v >= 100 ? v.toFixed(1) : v.toPrecision(d));
console.log(`\n${'workload'.padEnd(28)} ${'torchlet'.padStart(10)} ${'pytorch'.padStart(10)} ${'tfjs-wasm'.padStart(10)} ${'tfjs-cpu'.padStart(10)} ${'t/pytorch'.padStart(10)} ${'t/wasm'.padStart(8)}`);
console.log('(times in ms; *_us rows in microseconds per op; ratio < 1 means torchlet is faster)');
for (const [n, r] of Object.entries(table))
  console.log(`${n.padEnd(28)} ${fmt(r.torchlet).padStart(10)} ${fmt(r.pytorch).padStart(10)} ${fmt(r.tfjs_wasm).padStart(10)} ${fmt(r.tfjs_cpu).padStart(10)} ${fmt(r.ratio_pytorch).padStart(10)} ${fmt(r.ratio_tfjs_wasm).padStart(8)}`);
const mlp = table.train_mlp_step;
if (mlp?.torchlet) console.log(`\nMLP training: torchlet ${(64000 / mlp.torchlet).toFixed(0)} samples/s, PyTorch ${mlp.pytorch ? (64000 / mlp.pytorch).toFixed(0) : '—'}, tfjs-wasm ${mlp.tfjs_wasm ? (64000 / mlp.tfjs_wasm).toFixed(0) : '—'}`);
console.log(`Peak RSS training the MLP: torchlet ${fmt(rss.torchlet)} MB, PyTorch ${fmt(rss.pytorch)} MB`);

mkdirSync('bench/results', { recursive: true });
const date = new Date().toISOString().slice(0, 10);
const out = `bench/results/${os.hostname()}-${date}.json`;
writeFileSync(out, JSON.stringify({
  date: new Date().toISOString(), host: os.hostname(), cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model,
  rounds, quick: process.env.BENCH_QUICK === '1', table, rss,
  versions: { pytorch: perRound[0].pytorch?._version, tfjs: perRound[0].tfjs_wasm?._version, torchletBlas: perRound[0].torchlet?._blas, torchletNative: perRound[0].torchlet?._native },
}, null, 2));
console.log(`wrote ${out}`);
