// Child process for core-tensor.test.ts: runs the matmul-heavy op-table entries on cpu (with
// OpenBLAS hidden or disabled by the parent) plus larger products against a float64 reference,
// and prints one JSON line { blas, pass, fail, failures }.
import torch from '../../src/index.js';
import { blasInfo } from '../../src/device/cpu/index.js';
import { OP_TABLE } from './table.js';
import { runEntry, type EntryStats } from './runner.js';

const failures: string[] = [];
let pass = 0;
const t = {
  ok(c: unknown, msg: string) { if (c) pass++; else failures.push(msg); },
  fail(msg: string) { failures.push(msg); },
  equal(a: unknown, b: unknown, msg: string) { this.ok(a === b, msg); },
  comment() {},
};
const stats: EntryStats = { samples: 0, compared: 0, skipped: [] };
for (const e of OP_TABLE.filter((x) => ['matmul', 'mm', 'bmm', 'dot', 'outer'].includes(x.name))) runEntry(t, e, 'cpu', stats);

// larger products (packed JS GEMM paths: odd sizes, transposed operands, batches)
torch.manualSeed(3);
for (const [m, k, n, dt] of [[67, 91, 53, 'float32'], [128, 64, 96, 'float64'], [5, 300, 7, 'float32'], [33, 1, 17, 'float64']] as const) {
  const a = torch.randn([m, k], { dtype: 'float64' }), b = torch.randn([k, n], { dtype: 'float64' });
  const ref = a.tolist() as number[][], rb = b.tolist() as number[][];
  for (const [label, got] of [
    ['nn', a.to(dt).matmul(b.to(dt))],
    ['tn', a.t().contiguous().to(dt).t().matmul(b.to(dt))],
    ['nt', a.to(dt).matmul(b.t().contiguous().to(dt).t())],
  ] as const) {
    const g = got.tolist() as number[][];
    let worst = 0;
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += ref[i][p] * rb[p][j];
      worst = Math.max(worst, Math.abs(g[i][j] - s) / (1 + Math.abs(s)));
    }
    t.ok(worst < (dt === 'float32' ? 1e-4 : 1e-12), `${m}x${k}x${n} ${dt} ${label}: max rel err ${worst}`);
  }
}
const x = torch.randn([4, 6, 5], { dtype: 'float64' }), y = torch.randn([4, 5, 3], { dtype: 'float64' });
const z = x.bmm(y);
const zs = torch.stack(Array.from({ length: 4 }, (_, i) => x.select(0, i).matmul(y.select(0, i))));
t.ok(z.sub(zs).abs().amax().item() < 1e-12, 'bmm equals per-batch matmul');

console.log(JSON.stringify({ blas: blasInfo().kind, pass, fail: failures.length, failures }));
