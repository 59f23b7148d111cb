// torch.utils.data: datasets, DataLoader (batching, dropLast, shuffle, collate), randomSplit, progress bar.
import t from 'tap';
import * as fs from 'node:fs';
import * as torch from '../src/index.js';
import { Tensor } from '../src/index.js';
import {
  Dataset, TensorDataset, Subset, ConcatDataset, DataLoader, defaultCollate, randomSplit, progress, ProgressBar, countSamples,
  FashionMNIST, type ProgressStream,
} from '../src/data/index.js';
import { throwsTorch } from './helpers/assert.js';

function data(n = 10) {
  const x = torch.arange(n * 3, { dtype: 'float32' }).reshape(n, 3);
  const y = torch.arange(n);
  return { x, y, ds: new TensorDataset(x, y) };
}

/** A TensorDataset that counts getItem calls. */
class CountingDataset extends TensorDataset {
  calls = 0;
  override getItem(i: number): Tensor[] { this.calls++; return super.getItem(i); }
}

t.test('TensorDataset', async (tt) => {
  const { x, ds } = data();
  tt.equal(ds.length, 10);
  const [xi, yi] = ds.getItem(2);
  tt.same(xi.tolist(), [6, 7, 8]);
  tt.equal(yi.ndim, 0);
  tt.equal(yi.item(), 2);
  tt.equal(ds.getItem(-1)[1].item(), 9, 'negative indices count from the end');
  tt.equal(ds.tensors[0], x);
  tt.same([...ds].length, 10, 'iterable');
  throwsTorch(tt, () => ds.getItem(10), /index 10 is out of range for a dataset of 10 items/, 'out of range');
  throwsTorch(tt, () => ds.getItem(1.5), /integers/, 'fractional index');
  throwsTorch(tt, () => new TensorDataset(torch.zeros(3, 2), torch.zeros(4)), /Size mismatch between tensors/, 'size mismatch');
  throwsTorch(tt, () => new TensorDataset(), /at least one tensor/, 'no tensors');
  throwsTorch(tt, () => new TensorDataset(torch.tensor(1)), /at least one dimension/, '0-d tensor');
});

t.test('DataLoader batching and dropLast', async (tt) => {
  const { x, y, ds } = data();
  const loader = new DataLoader(ds, { batchSize: 4 });
  tt.equal(loader.length, 3);
  const batches = [...loader];
  tt.equal(batches.length, 3);
  tt.same(batches.map(([xb, yb]) => [xb.shape, yb.shape]), [[[4, 3], [4]], [[4, 3], [4]], [[2, 3], [2]]]);
  tt.same(torch.cat(batches.map((b) => b[0])).tolist(), x.tolist(), 'in order, nothing lost');
  tt.same(torch.cat(batches.map((b) => b[1])).tolist(), y.tolist());
  tt.equal(batches[0][1].dtype, 'int64');
  tt.equal(batches[0][0].dtype, 'float32');
  // batches are copies, not views of the dataset
  batches[0][0].fill_(-1);
  tt.equal(x.index(0, 0).item(), 0, 'modifying a batch leaves the dataset alone');
  const dl = new DataLoader(ds, { batchSize: 4, dropLast: true });
  tt.equal(dl.length, 2);
  tt.same([...dl].map((b) => b[0].shape[0]), [4, 4]);
  tt.equal(new DataLoader(ds).length, 10, 'batchSize defaults to 1');
  tt.same([...new DataLoader(ds)][3][0].shape, [1, 3]);
  tt.equal(new DataLoader(ds, { batchSize: 10, dropLast: true }).length, 1);
  tt.equal(new DataLoader(ds, { batchSize: 11, dropLast: true }).length, 0);
  tt.equal([...new DataLoader(ds, { batchSize: 11, dropLast: true })].length, 0);
  // destructuring in for...of, as in PyTorch
  let n = 0;
  for (const [xb, yb] of loader) { n += xb.shape[0]; tt.equal(xb.shape[0], yb.shape[0]); }
  tt.equal(n, 10);
  // batchSize null: items one by one
  const items = [...new DataLoader(ds, { batchSize: null })];
  tt.equal(items.length, 10);
  tt.same(items[4][0].shape, [3]);
});

t.test('the TensorDataset fast path equals item-by-item collation', async (tt) => {
  const base = data(23);
  const extra = [
    torch.arange(23 * 4, { dtype: 'float64' }).reshape(23, 2, 2),
    torch.arange(23).remainder(3).eq(0),
    torch.arange(23 * 2, { dtype: 'int32' }).reshape(23, 2),
    torch.linspace(0, 1, 23).to('float16'),
    torch.arange(46).reshape(2, 23).t(), // non-contiguous: indexSelect / narrow path
  ];
  const ds = new CountingDataset(base.x, base.y, ...extra);
  for (const shuffle of [false, true]) {
    torch.manualSeed(7);
    const fast = [...new DataLoader(ds, { batchSize: 5, shuffle })];
    tt.equal(ds.calls, 0, `shuffle=${shuffle}: no per-item getItem calls on the fast path`);
    torch.manualSeed(7);
    const slow = [...new DataLoader(ds, { batchSize: 5, shuffle, collate: defaultCollate })];
    tt.equal(ds.calls, 23, 'collate given: items fetched one by one');
    ds.calls = 0;
    tt.equal(fast.length, slow.length);
    fast.forEach((b, i) => {
      tt.same(b.map((z) => z.shape), slow[i].map((z) => z.shape), `batch ${i} shapes`);
      tt.same(b.map((z) => z.dtype), slow[i].map((z) => z.dtype), `batch ${i} dtypes`);
      tt.same(b.map((z) => z.tolist()), slow[i].map((z) => z.tolist()), `batch ${i} values`);
    });
  }
  // a Subset of a TensorDataset keeps the fast path
  const sub = new Subset(ds, [5, 1, 7, 2, 3]);
  const [sx, sy] = [...new DataLoader(sub, { batchSize: 3 })][0];
  tt.same(sy.tolist(), [5, 1, 7]);
  tt.same(sx.tolist(), [[15, 16, 17], [3, 4, 5], [21, 22, 23]]);
  tt.equal(ds.calls, 0);
});

t.test('shuffle is reproducible with manualSeed and reshuffles every epoch', async (tt) => {
  const { ds } = data(50);
  const order = (l: DataLoader<Tensor[], Tensor[]>) => [...l].flatMap((b) => b[1].tolist() as number[]);
  const loader = new DataLoader(ds, { batchSize: 8, shuffle: true });
  torch.manualSeed(123);
  const e1 = order(loader), e2 = order(loader);
  torch.manualSeed(123);
  tt.same(order(loader), e1, 'same seed, same first epoch');
  tt.same(order(loader), e2, 'same seed, same second epoch');
  tt.notSame(e1, e2, 'a new order each epoch');
  tt.same([...e1].sort((a, b) => a - b), [...Array(50).keys()], 'a permutation of all items');
  tt.notSame(e1, [...Array(50).keys()], 'not the identity');
  // a seeded generator is independent of the global one
  const a = new DataLoader(ds, { batchSize: 8, shuffle: true, generator: 5 });
  const b = new DataLoader(ds, { batchSize: 8, shuffle: true, generator: { seed: 5 } });
  torch.manualSeed(1);
  const oa = order(a);
  torch.manualSeed(2);
  tt.same(order(b), oa, 'generator seeds give the same order whatever the global seed');
  // a custom sampler
  const s = new DataLoader(ds, { batchSize: 2, sampler: [3, 1, 4, 1, 5] });
  tt.equal(s.length, 3);
  tt.same(order(s), [3, 1, 4, 1, 5]);
});

class Records extends Dataset<{ image: Tensor; label: number; score: number; meta: { name: string; flags: [boolean, number] } }> {
  get length() { return 5; }
  getItem(i: number) {
    return { image: torch.full([2, 2], i), label: i, score: i + 0.5, meta: { name: `item${i}`, flags: [i % 2 === 0, i] as [boolean, number] } };
  }
}

t.test('default collate handles nested structures as PyTorch', async (tt) => {
  const loader = new DataLoader(new Records(), { batchSize: 3 });
  const [b0, b1] = [...loader];
  tt.same(b0.image.shape, [3, 2, 2]);
  tt.equal(b0.image.dtype, 'int64');
  tt.same(b0.label.tolist(), [0, 1, 2]);
  tt.equal(b0.label.dtype, 'int64', 'integers collate to int64');
  tt.same(b0.score.tolist(), [0.5, 1.5, 2.5]);
  tt.equal(b0.score.dtype, 'float64', 'floats collate to float64 (Python floats are doubles)');
  tt.same(b0.meta.name, ['item0', 'item1', 'item2'], 'strings stay a list');
  tt.same(b0.meta.flags[0].tolist(), [true, false, true]);
  tt.equal(b0.meta.flags[0].dtype, 'bool');
  tt.same(b0.meta.flags[1].tolist(), [0, 1, 2]);
  tt.same(b1.image.shape, [2, 2, 2]);
  // tuples of tensors and numbers
  const c = defaultCollate([[torch.ones(2), 1, [2, 3]], [torch.zeros(2), 4, [5, 6]]] as [Tensor, number, number[]][]);
  tt.same(c[0].tolist(), [[1, 1], [0, 0]]);
  tt.same(c[1].tolist(), [1, 4]);
  tt.same((c[2] as unknown as Tensor[]).map((z) => z.tolist()), [[2, 5], [3, 6]], 'inner lists transpose as in PyTorch');
  tt.same(defaultCollate([new Float32Array([1, 2]), new Float32Array([3, 4])]).tolist(), [[1, 2], [3, 4]], 'TypedArrays become stacked tensors');
  // a custom collate
  const custom = new DataLoader(new Records(), { batchSize: 2, collate: (items) => items.map((it) => it.label) });
  tt.same([...custom], [[0, 1], [2, 3], [4]]);
  // errors
  throwsTorch(tt, () => defaultCollate([[1, 2], [3]]), /each element in list of batch should be of equal size/, 'ragged lists');
  throwsTorch(tt, () => defaultCollate([{ a: 1 }, { b: 2 }] as any[]), /key 'a' is missing/, 'missing key');
  throwsTorch(tt, () => defaultCollate([null, null]), /found null/, 'null items');
  throwsTorch(tt, () => defaultCollate([torch.ones(2), torch.ones(3)]), /stack expects each tensor to be equal size/, 'unequal tensors');
  throwsTorch(tt, () => defaultCollate([1, 'a'] as any[]), /mixed a number with string/, 'mixed types');
  throwsTorch(tt, () => defaultCollate([]), /non-empty/, 'empty batch');
});

t.test('bad DataLoader arguments give clear errors', async (tt) => {
  const { ds } = data();
  throwsTorch(tt, () => new DataLoader(ds, { batchSize: 0 }), /batchSize should be a positive integer value, but got batchSize=0/, 'batchSize 0');
  throwsTorch(tt, () => new DataLoader(ds, { batchSize: -2 }), /positive integer/, 'negative batchSize');
  throwsTorch(tt, () => new DataLoader(ds, { batchSize: 2.5 }), /positive integer/, 'fractional batchSize');
  throwsTorch(tt, () => new DataLoader(ds, { shuffle: 'yes' as any }), /shuffle should be a boolean/, 'shuffle not boolean');
  throwsTorch(tt, () => new DataLoader(ds, { batchSize: null, dropLast: true }), /mutually exclusive with dropLast/, 'null batch + dropLast');
  throwsTorch(tt, () => new DataLoader(ds, { shuffle: true, sampler: [1, 2] }), /mutually exclusive with shuffle/, 'sampler + shuffle');
  throwsTorch(tt, () => new DataLoader([1, 2, 3] as any), /expected a dataset/, 'an array is not a dataset');
  throwsTorch(tt, () => new DataLoader(ds, { collate: 5 as any }), /collate must be a function/, 'collate not a function');
});

t.test('randomSplit', async (tt) => {
  const { ds } = data(10);
  torch.manualSeed(0);
  const [a, b] = randomSplit(ds, [7, 3]);
  tt.equal(a.length, 7);
  tt.equal(b.length, 3);
  tt.ok(a instanceof Subset);
  tt.same([...a.indices, ...b.indices].sort((p, q) => p - q), [...Array(10).keys()], 'disjoint and complete');
  torch.manualSeed(0);
  const [a2] = randomSplit(ds, [7, 3]);
  tt.same(a2.indices, a.indices, 'reproducible after manualSeed');
  const big = data(11).ds;
  const parts = randomSplit(big, [0.5, 0.3, 0.2], 42);
  tt.same(parts.map((p) => p.length), [6, 3, 2], 'fractions: floor, then the remainder round-robin (as PyTorch)');
  tt.same(randomSplit(big, [0.5, 0.3, 0.2], 42).map((p) => p.indices), parts.map((p) => p.indices), 'seeded');
  tt.same(randomSplit(data(10).ds, [0.34, 0.33, 0.33], 1).map((p) => p.length), [4, 3, 3]);
  tt.same(randomSplit(ds, [10, 0], 1).map((p) => p.length), [10, 0]);
  const [first] = randomSplit(ds, [4, 6], 3);
  tt.equal(first.getItem(0)[1].item(), first.indices[0], 'subset items come from the dataset');
  throwsTorch(tt, () => randomSplit(ds, [5, 4]), /Sum of input lengths \(9\) does not equal the length of the input dataset \(10\)/, 'sum mismatch');
  throwsTorch(tt, () => randomSplit(ds, [1.5, -0.5]), /Fraction at index 0 is not between 0 and 1|non-negative integers/, 'bad fractions');
  throwsTorch(tt, () => randomSplit(ds, []), /non-empty array/, 'no lengths');
});

t.test('Subset and ConcatDataset', async (tt) => {
  const { ds } = data(6);
  const s = new Subset(ds, [4, 0]);
  tt.equal(s.length, 2);
  tt.equal(s.getItem(0)[1].item(), 4);
  throwsTorch(tt, () => new Subset(ds, [6]), /out of range/, 'subset index out of range');
  const c = new ConcatDataset([ds, s]);
  tt.equal(c.length, 8);
  tt.equal(c.getItem(5)[1].item(), 5);
  tt.equal(c.getItem(6)[1].item(), 4);
  tt.equal(c.getItem(-1)[1].item(), 0);
  tt.equal(ds.concat(s).length, 8);
  const batches = [...new DataLoader(c, { batchSize: 4 })];
  tt.same(batches.map((b) => b[1].tolist()), [[0, 1, 2, 3], [4, 5, 4, 0]]);
});

/** A stream that looks like a terminal and records what is written. */
function fakeTTY(): ProgressStream & { out: string } {
  return { isTTY: true, columns: 120, out: '', write(s: string) { this.out += s; return true; } };
}

t.test('progress bar', async (tt) => {
  const { ds } = data(10);
  const loader = new DataLoader(ds, { batchSize: 4 });
  const stream = fakeTTY();
  const bar = progress(loader, { desc: 'epoch 1', stream, minInterval: 0 });
  tt.equal(bar.total, 3, 'total from the loader length');
  let seen = 0;
  for (const [xb] of bar) { seen += xb.shape[0]; bar.setPostfix({ loss: 0.123456, acc: torch.tensor(0.5) }); }
  tt.equal(seen, 10);
  tt.equal(bar.n, 3);
  tt.equal(bar.samples, 10, 'samples counted from the batch size');
  tt.match(stream.out, /epoch 1: 100%\|█+\| 3\/3 \[/);
  tt.match(stream.out, /it\/s, [\d.]+ samples\/s, loss=0\.1235, acc=0\.5\]/);
  tt.ok(stream.out.endsWith('\n'), 'the finished bar stays on its line');
  tt.notMatch(stream.out.split('\r').slice(-1)[0], /\n.+/, 'one line');
  // not a TTY: silent
  const quiet = { isTTY: false, out: '', write(s: string) { this.out += s; return true; } };
  const qb = progress(loader, { stream: quiet });
  tt.equal([...qb].length, 3);
  qb.setPostfix('x');
  tt.equal(quiet.out, '', 'nothing written when not a TTY');
  tt.equal(qb.enabled, false);
  // driven by hand, without a total
  const s2 = fakeTTY();
  const hand = new ProgressBar(null, { stream: s2, minInterval: 0 });
  hand.update(2, 64);
  hand.close();
  tt.match(s2.out, /2 it \[00:00, [\d.?]+ it\/s, [\d.?]+ samples\/s\]/);
  tt.equal(countSamples({ a: [torch.zeros(7, 2)] }), 7);
  tt.equal(countSamples(3), 1);
  tt.ok(bar.render(80).length > 0);
});

const FASHION = '/usr/share/datasets/fashion-mnist';
t.test('FashionMNIST through a DataLoader', { skip: !fs.existsSync(`${FASHION}/t10k-labels-idx1-ubyte.gz`) && !fs.existsSync(`${FASHION}/t10k-labels-idx1-ubyte`) ? 'Fashion-MNIST files not installed' : false }, async (tt) => {
  const test = new FashionMNIST({ root: FASHION, train: false });
  const loader = new DataLoader(test, { batchSize: 256 });
  tt.equal(loader.length, 40);
  const [x, y] = loader[Symbol.iterator]().next().value as Tensor[];
  tt.same(x.shape, [256, 1, 28, 28]);
  tt.equal(x.dtype, 'float32');
  tt.same(y.shape, [256]);
  tt.equal(y.dtype, 'int64');
  tt.same(y.index('0:5').tolist(), test.targets.index('0:5').tolist());
});
