/** The global random generator (xoshiro128**, seeded by manualSeed) and host-side random fills. */
import type { Tensor } from '../tensor.js';
import { allocHost, toStored } from '../dtype.js';

let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
/** The second normal of the last Box-Muller pair (reset by manualSeed). */
let spare: number | null = null;

/** splitmix32 expands a seed into the generator's 128-bit state. */
function splitmix32(seed: number): () => number {
  let z = seed >>> 0;
  return () => {
    z = (z + 0x9e3779b9) >>> 0;
    let r = z;
    r = Math.imul(r ^ (r >>> 16), 0x85ebca6b) >>> 0;
    r = Math.imul(r ^ (r >>> 13), 0xc2b2ae35) >>> 0;
    return (r ^ (r >>> 16)) >>> 0;
  };
}
/** Seeds the global generator (torch.manualSeed). */
export function manualSeed(seed: number): void {
  const hi = Math.floor(seed / 2 ** 32);
  const sm = splitmix32((seed >>> 0) ^ Math.imul(hi, 0x27d4eb2d));
  s0 = sm(); s1 = sm(); s2 = sm(); s3 = sm();
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  spare = null;
}
manualSeed(Date.now() ^ (Math.random() * 2 ** 32));

/** Next 32 random bits. */
export function nextU32(): number {
  const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
  const t = s1 << 9;
  s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
  s2 ^= t;
  s3 = rotl(s3, 11);
  return result;
}
function rotl(x: number, k: number): number { return (x << k) | (x >>> (32 - k)); }

/** Uniform in [0, 1) with 53 random bits. */
export function random(): number {
  return ((nextU32() >>> 5) * 67108864 + (nextU32() >>> 6)) / 9007199254740992;
}
/** Uniform integer in [0, n). */
export function randomInt(n: number): number {
  return Math.floor(random() * n);
}
/** Standard normal (Box-Muller, pairs cached). */
export function randn1(): number {
  if (spare !== null) { const v = spare; spare = null; return v; }
  let u = 0;
  while (u === 0) u = random();
  const v = random();
  const r = Math.sqrt(-2 * Math.log(u));
  spare = r * Math.sin(2 * Math.PI * v);
  return r * Math.cos(2 * Math.PI * v);
}

/** Fills a contiguous tensor with uniform(a, b), normal(a, b) or bernoulli(a) values generated on the host. */
export function fillRandom(t: Tensor, kind: 'uniform' | 'normal' | 'bernoulli' | 'randint', a: number, b: number): void {
  const n = t.numel();
  if (n === 0) return;
  const host = allocHost(t.dtype, n);
  const f32 = t.dtype !== 'float64';
  for (let i = 0; i < n; i++) {
    let v: number;
    if (kind === 'uniform') v = a + (b - a) * (f32 ? (nextU32() >>> 8) / 16777216 : random());
    else if (kind === 'normal') v = a + b * randn1();
    else if (kind === 'bernoulli') v = (f32 ? (nextU32() >>> 8) / 16777216 : random()) < a ? 1 : 0;
    else v = a + Math.floor(random() * (b - a));
    host[i] = toStored(t.dtype, v);
  }
  t._backend.write(t._storage.handle, t.dtype, host, t._offset);
}
