// MNIST / Fashion-MNIST datasets over IDX files.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import '../src/index.js'; // registers the cpu device
import { TorchError } from '../src/errors.js';
import { FashionMNIST, MNIST } from '../src/data/datasets.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'torchlet-ds-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

function idx(typeCode: number, dims: number[], body: Uint8Array): Buffer {
  const out = Buffer.alloc(4 + 4 * dims.length + body.length);
  out[2] = typeCode; out[3] = dims.length;
  dims.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
  out.set(body, 4 + 4 * dims.length);
  return out;
}
/** A small fake split: n images whose pixel j of image i is (i * 7 + j) % 256, labels i % 10. */
function writeSplit(dir: string, prefix: string, n: number, gz: boolean): void {
  fs.mkdirSync(dir, { recursive: true });
  const px = Uint8Array.from({ length: n * 784 }, (_, k) => (Math.floor(k / 784) * 7 + (k % 784)) % 256);
  const lb = Uint8Array.from({ length: n }, (_, i) => i % 10);
  const w = (name: string, b: Buffer) => fs.writeFileSync(path.join(dir, gz ? `${name}.gz` : name), gz ? zlib.gzipSync(b) : b);
  w(`${prefix}-images-idx3-ubyte`, idx(8, [n, 28, 28], px));
  w(`${prefix}-labels-idx1-ubyte`, idx(8, [n], lb));
}

t.test('a small synthetic split, gzipped and not', async (tt) => {
  const root = path.join(tmp, 'synth');
  writeSplit(root, 'train', 12, true);
  writeSplit(root, 't10k', 5, false);
  const train = new FashionMNIST({ root });
  tt.equal(train.length, 12);
  tt.equal(train.train, true);
  const [img, label] = train.getItem(3);
  tt.same(img.shape, [1, 28, 28]);
  tt.equal(img.dtype, 'float32');
  tt.equal(label.dtype, 'int64');
  tt.same(label.shape, []);
  tt.equal(label.item(), 3);
  const flat = img.reshape(-1).tolist() as number[];
  tt.equal(flat[0], Math.fround(21 / 255));
  tt.equal(flat[10], Math.fround(31 / 255));
  tt.ok(flat.every((v) => v >= 0 && v <= 1), 'pixels in [0, 1]');
  tt.equal(train.getItem(-1)[1].item(), 1, 'negative index from the end');
  tt.same(train.data.shape, [12, 28, 28]);
  tt.equal(train.data.dtype, 'uint8');
  tt.same(train.targets.shape, [12]);
  tt.equal(train.targets.dtype, 'int64');
  tt.same(train.targets.tolist(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
  tt.equal(train.label(11), 1);
  const test = new MNIST({ root, train: false });
  tt.equal(test.length, 5);
  tt.equal(test.classes.length, 10);
  tt.throws(() => train.getItem(12), /out of range/);
  tt.throws(() => train.getItem(1.5), /out of range/);
  const tf = new FashionMNIST({ root, transform: (x) => x.mul(2), targetTransform: (y) => y.add(100) });
  const [x2, y2] = tf.getItem(3);
  tt.equal(y2.item(), 103);
  tt.equal((x2.reshape(-1).tolist() as number[])[0], Math.fround(Math.fround(21 / 255) * 2));
});

t.test('torchvision and $TORCHLET_DATA layouts', async (tt) => {
  const root = path.join(tmp, 'tv');
  writeSplit(path.join(root, 'MNIST', 'raw'), 'train', 3, true);
  writeSplit(path.join(root, 'fashion-mnist'), 'train', 4, true);
  tt.equal(new MNIST({ root }).length, 3, 'root/MNIST/raw');
  tt.equal(new FashionMNIST({ root }).length, 4, 'root/fashion-mnist');
  const saved = process.env.TORCHLET_DATA;
  process.env.TORCHLET_DATA = root;
  try {
    tt.equal(new FashionMNIST().length, 4, 'default root from TORCHLET_DATA');
  } finally {
    if (saved === undefined) delete process.env.TORCHLET_DATA; else process.env.TORCHLET_DATA = saved;
  }
});

t.test('missing and corrupt files are clear errors', async (tt) => {
  const empty = path.join(tmp, 'empty');
  fs.mkdirSync(empty);
  try {
    new FashionMNIST({ root: empty });
    tt.fail('no error');
  } catch (e) {
    tt.ok(e instanceof TorchError);
    tt.match((e as Error).message, /FashionMNIST: cannot find train-images-idx3-ubyte or train-images-idx3-ubyte\.gz in .*empty/);
    tt.match((e as Error).message, /dataset-fashion-mnist/);
  }
  tt.throws(() => new MNIST({ root: empty, train: false }), /MNIST: cannot find t10k-images-idx3-ubyte/);
  const bad = path.join(tmp, 'bad');
  writeSplit(bad, 'train', 4, false);
  fs.writeFileSync(path.join(bad, 'train-labels-idx1-ubyte'), idx(8, [3], Uint8Array.from([1, 2, 3])));
  tt.throws(() => new FashionMNIST({ root: bad }), /has 4 images but .* has 3 labels/);
  fs.writeFileSync(path.join(bad, 'train-labels-idx1-ubyte'), idx(8, [4], Uint8Array.from([1, 2, 3, 200])));
  tt.throws(() => new FashionMNIST({ root: bad }), /label 200 at index 3 is not a class/);
  fs.writeFileSync(path.join(bad, 'train-labels-idx1-ubyte'), idx(8, [2, 2], Uint8Array.from([1, 2, 3, 4])));
  tt.throws(() => new FashionMNIST({ root: bad }), /magic number 0x00000802, expected 0x00000801/);
  fs.writeFileSync(path.join(bad, 'train-images-idx3-ubyte'), idx(8, [4, 28, 28], new Uint8Array(100)));
  tt.throws(() => new FashionMNIST({ root: bad }), /train-images-idx3-ubyte: .* it is truncated/);
});

const FMNIST = '/usr/share/datasets/fashion-mnist';
const have = fs.existsSync(path.join(FMNIST, 'train-images-idx3-ubyte.gz')) || fs.existsSync(path.join(FMNIST, 'train-images-idx3-ubyte'));
t.test('the real Fashion-MNIST', { skip: have && !process.env.TORCHLET_DATA ? false : `no Fashion-MNIST in ${FMNIST} (apt-get install dataset-fashion-mnist)` }, async (tt) => {
  const train = new FashionMNIST();
  const test = new FashionMNIST({ train: false });
  tt.equal(train.length, 60000);
  tt.equal(test.length, 10000);
  tt.same(train.targets.narrow(0, 0, 10).tolist(), [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
  tt.same(test.targets.narrow(0, 0, 10).tolist(), [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
  tt.same(train.data.shape, [60000, 28, 28]);
  const [img, label] = train.getItem(0);
  tt.equal(label.item(), 9);
  tt.equal(img.sum().item(), Math.fround(76247 / 255), 'pixel sum of the first image / 255');
  tt.equal(train.data.index(0).sum().item(), 76247);
  // getItem is cheap: 10000 items well under a second
  const t0 = performance.now();
  for (let i = 0; i < 10000; i++) train.getItem(i);
  const ms = performance.now() - t0;
  tt.ok(ms < 5000, `10000 getItem calls took ${ms.toFixed(0)} ms`);
});
