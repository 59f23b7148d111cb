// Large fills on the cpu run on the native pool (tl_fill; src/device/cpu/copy.ts fillRange):
// zero-filled allocations, full/ones, fill_ on a slice, and a broadcast scalar made contiguous.
// Every dtype, values that need their exact bytes (-0, NaN, float16 bits), and the elements
// just outside the filled range left alone.
import t from 'tap';
import torch, { type DType } from '../src/index.js';
import { nativeInfo } from '../src/device/cpu/native.js';

const N = 600_000; // 2.4 MB of float32: above the 1 MB native threshold for every dtype but 1-byte ones
const DTYPES: DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int32', 'int64', 'uint8', 'bool'];

t.test('large fills (native pool when loaded) write every element and nothing else', (t) => {
  if (!nativeInfo().loaded) t.comment(`native kernels not loaded (${nativeInfo().reason}): TypedArray.fill checked instead`);
  for (const dtype of DTYPES) {
    const n = dtype === 'uint8' || dtype === 'bool' ? 4 * N : N;
    const v = dtype === 'bool' ? 1 : dtype === 'uint8' ? 7 : dtype.startsWith('int') ? -3 : 1.5;
    const z = torch.zeros([n], { dtype });
    t.ok(Array.prototype.every.call(z.dataSync(), (e: unknown) => Number(e) === 0), `${dtype}: zeros`);
    const f = torch.full([n], v, { dtype });
    t.ok(Array.prototype.every.call(f.dataSync(), (e: unknown) => Number(e) === v), `${dtype}: full(${v})`);
    // fill_ on a slice in the middle: the neighbours keep their values
    const base = torch.full([n + 2], dtype === 'bool' ? 0 : 2, { dtype });
    base.narrow(0, 1, n).fill_(v);
    const d = base.dataSync();
    t.equal(Number(d[0]), dtype === 'bool' ? 0 : 2, `${dtype}: element before the slice untouched`);
    t.equal(Number(d[n + 1]), dtype === 'bool' ? 0 : 2, `${dtype}: element after the slice untouched`);
    let ok = true;
    for (let i = 1; i <= n; i++) if (Number(d[i]) !== v) { ok = false; break; }
    t.ok(ok, `${dtype}: the slice filled`);
    // a broadcast scalar made contiguous
    const e = torch.tensor(v, { dtype }).expand(n).contiguous();
    t.ok(Array.prototype.every.call(e.dataSync(), (x: unknown) => Number(x) === v), `${dtype}: expanded scalar made contiguous`);
  }
  // bytes that matter: -0 and NaN in float32/float64
  for (const dtype of ['float32', 'float64'] as DType[]) {
    const m = torch.full([N], -0, { dtype }).dataSync();
    t.ok(Object.is(m[0], -0) && Object.is(m[N - 1], -0), `${dtype}: -0 keeps its sign`);
    const q = torch.full([N], NaN, { dtype }).dataSync();
    t.ok(Number.isNaN(q[0]) && Number.isNaN(q[N - 1]), `${dtype}: NaN`);
  }
  t.end();
});
