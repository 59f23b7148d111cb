// File I/O: safetensors, torch.save zip files (restricted pickle), IDX, and the tensor layer.
import t, { type Test } from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TorchError } from '../src/errors.js';
import { f16ToF32, bf16ToF32, type DType } from '../src/dtype.js';
import type { TensorRecord } from '../src/io/source.js';
import { parseSafetensors, serializeSafetensors, readSafetensorsFile, writeSafetensorsFile } from '../src/io/safetensors.js';
import { parseTorch, readTorchFile, unpickleData, type TensorInfo } from '../src/io/torch_pt.js';
import { readZipDirectory, readZipEntry, crc32 } from '../src/io/zip.js';
import { bufferSource } from '../src/io/source.js';
import { parseIdx, readIdxFile } from '../src/io/idx.js';
import { fixtureDir, loadFixture, num } from './helpers/fixtures.js';
import { throwsTorch } from './helpers/assert.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIX = fixtureDir('io');
const expected = loadFixture('io', 'expected.json');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'torchlet-io-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Expect = { dtype: DType; shape: number[]; values: (number | string)[]; bits?: number[] };

/** Checks a record against a fixture description exactly (float32 via fround, 16-bit floats by bits). */
function matches(tt: Test, r: TensorRecord, e: Expect, what: string): void {
  tt.equal(r.dtype, e.dtype, `${what} dtype`);
  tt.same(r.shape, e.shape, `${what} shape`);
  if (e.bits) {
    tt.same([...r.data], e.bits, `${what} bits`);
    return;
  }
  const got = [...r.data];
  const want = e.values.map(num);
  tt.equal(got.length, want.length, `${what} numel`);
  let bad = -1;
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i]) && !(got[i] === want[i])) { bad = i; break; }
  tt.equal(bad, -1, `${what} values (first mismatch at ${bad}: got ${got[bad]}, want ${want[bad]})`);
}

function rec(dtype: DType, shape: number[], data: TensorRecord['data']): TensorRecord {
  return { dtype, shape, data };
}

// ---------- a tiny zip writer for crafting archives (stored or deflated entries) ----------
function makeZip(files: [string, Uint8Array][], deflate = false, zip64 = false): Uint8Array {
  const locals: Buffer[] = [], centrals: Buffer[] = [];
  let at = 0;
  for (const [name, data] of files) {
    const nameB = Buffer.from(name, 'utf8');
    const body = deflate ? zlib.deflateRawSync(data) : Buffer.from(data);
    const crc = crc32(data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0); lh.writeUInt16LE(20, 4); lh.writeUInt16LE(0x800, 6);
    lh.writeUInt16LE(deflate ? 8 : 0, 8); lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(body.length, 18); lh.writeUInt32LE(data.length, 22); lh.writeUInt16LE(nameB.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0); ch.writeUInt16LE(20, 4); ch.writeUInt16LE(20, 6); ch.writeUInt16LE(0x800, 8);
    ch.writeUInt16LE(deflate ? 8 : 0, 10); ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(zip64 ? 0xffffffff : body.length, 20); ch.writeUInt32LE(zip64 ? 0xffffffff : data.length, 24); ch.writeUInt16LE(nameB.length, 28);
    ch.writeUInt32LE(zip64 ? 0xffffffff : at, 42);
    // zip64 extra field: size, compressed size, local header offset (the saturated fields, in order)
    const extra = Buffer.alloc(zip64 ? 28 : 0);
    if (zip64) {
      extra.writeUInt16LE(1, 0); extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(data.length), 4); extra.writeBigUInt64LE(BigInt(body.length), 12); extra.writeBigUInt64LE(BigInt(at), 20);
      ch.writeUInt16LE(28, 30);
    }
    locals.push(lh, nameB, body);
    centrals.push(ch, nameB, extra);
    at += 30 + nameB.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0); eocd.writeUInt16LE(files.length, 8); eocd.writeUInt16LE(files.length, 10);
  eocd.writeUInt32LE(cd.length, 12); eocd.writeUInt32LE(at, 16);
  if (!zip64) return new Uint8Array(Buffer.concat([...locals, cd, eocd]));
  eocd.writeUInt16LE(0xffff, 8); eocd.writeUInt16LE(0xffff, 10); eocd.writeUInt32LE(0xffffffff, 12); eocd.writeUInt32LE(0xffffffff, 16);
  const rec = Buffer.alloc(56);
  rec.writeUInt32LE(0x06064b50, 0); rec.writeBigUInt64LE(44n, 4); rec.writeUInt16LE(45, 12); rec.writeUInt16LE(45, 14);
  rec.writeBigUInt64LE(BigInt(files.length), 24); rec.writeBigUInt64LE(BigInt(files.length), 32);
  rec.writeBigUInt64LE(BigInt(cd.length), 40); rec.writeBigUInt64LE(BigInt(at), 48);
  const loc = Buffer.alloc(20);
  loc.writeUInt32LE(0x07064b50, 0); loc.writeBigUInt64LE(BigInt(at + cd.length), 8); loc.writeUInt32LE(1, 16);
  return new Uint8Array(Buffer.concat([...locals, cd, rec, loc, eocd]));
}

// ---------- a tiny pickle assembler ----------
const P = {
  proto: [0x80, 2], stop: [0x2e], mark: [0x28], tuple: [0x74], reduce: [0x52], emptyTuple: [0x29],
  emptyDict: [0x7d], setitems: [0x75], none: [0x4e],
  global: (m: string, n: string) => [0x63, ...Buffer.from(`${m}\n${n}\n`, 'latin1')],
  str: (s: string) => { const b = Buffer.from(s, 'utf8'); return [0x58, b.length & 255, (b.length >> 8) & 255, 0, 0, ...b]; },
  int1: (v: number) => [0x4b, v],
};
function pk(...parts: number[][]): Uint8Array { return new Uint8Array(parts.flat()); }
/** A torch.save-shaped archive around a given data.pkl and storages. */
function torchZip(pkl: Uint8Array, storages: Record<string, Uint8Array> = {}): Uint8Array {
  return makeZip([['archive/data.pkl', pkl], ...Object.entries(storages).map(([k, v]) => [`archive/data/${k}`, v] as [string, Uint8Array]), ['archive/version', new Uint8Array(Buffer.from('3\n'))]]);
}
/** A pickle for {'w': _rebuild_tensor_v2(storage(FloatStorage, '0', numel), offset, size, stride, False, OrderedDict())}. */
function tensorPickle(numel: number, offset: number, size: number[], stride: number[], storageType = 'FloatStorage'): Uint8Array {
  const tup = (xs: number[]) => [...P.mark, ...xs.flatMap((x) => x < 256 ? P.int1(x) : [0x4a, ...new Uint8Array(new Int32Array([x]).buffer)]), ...P.tuple];
  return pk(P.proto, P.emptyDict, P.mark, P.str('w'),
    P.global('torch._utils', '_rebuild_tensor_v2'),
    P.mark,
    P.mark, P.str('storage'), P.global('torch', storageType), P.str('0'), P.str('cpu'), numel < 256 ? P.int1(numel) : [0x4a, ...new Uint8Array(new Int32Array([numel]).buffer)], P.tuple, [0x51],
    P.int1(offset), tup(size), tup(stride), [0x89], P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce,
    P.tuple, P.reduce, P.setitems, P.stop);
}

// =====================================================================================
t.test('safetensors: round trip of every dtype, 0-d and empty tensors, metadata', async (tt) => {
  const tensors: Record<string, TensorRecord> = {
    f32: rec('float32', [2, 3], Float32Array.from([0.5, -1, 2, 3.25, -4.5, Math.fround(0.1)])),
    f64: rec('float64', [3], Float64Array.from([1 / 3, -2, 1e300])),
    f16: rec('float16', [2], Uint16Array.from([0x3e00, 0xfc00])),
    bf16: rec('bfloat16', [2], Uint16Array.from([0x3f80, 0xc049])),
    i64: rec('int64', [2, 2], Float64Array.from([-5, 0, 2 ** 53, -(2 ** 40)])),
    i32: rec('int32', [3], Int32Array.from([-7, 0, 2147483647])),
    u8: rec('uint8', [4], Uint8Array.from([0, 7, 128, 255])),
    b: rec('bool', [3], Uint8Array.from([1, 0, 1])),
    scalar: rec('float32', [], Float32Array.from([42])),
    empty: rec('float32', [0, 5], new Float32Array(0)),
    __proto__: rec('uint8', [1], Uint8Array.from([9])),
  } as Record<string, TensorRecord>;
  // an own "__proto__" key, not the prototype
  Object.defineProperty(tensors, '__proto__', { value: rec('uint8', [1], Uint8Array.from([9])), enumerable: true });
  const bytes = serializeSafetensors(tensors, { note: 'hello', format: 'pt' });
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  tt.equal((8 + headerLen) % 8, 0, 'the data starts 8-byte aligned');
  const back = parseSafetensors(bytes, 'mem');
  tt.same(Object.keys(back.tensors), Object.keys(tensors), 'keys in the original order');
  for (const [k, r] of Object.entries(tensors)) {
    const b = back.tensors[k];
    tt.equal(b.dtype, r.dtype, `${k} dtype`);
    tt.same(b.shape, r.shape, `${k} shape`);
    tt.equal(b.data.constructor, r.data.constructor, `${k} host array type`);
    tt.same([...b.data], [...r.data], `${k} data`);
  }
  tt.same({ ...back.metadata }, { note: 'hello', format: 'pt' }, 'metadata');
  tt.equal(Object.getPrototypeOf(back.tensors), Object.prototype, 'the prototype is untouched');
  // the layout is what the reference implementation requires: offsets contiguous from 0, no holes
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLen)).toString('utf8'));
  const spans = Object.entries(header).filter(([k]) => k !== '__metadata__').map(([, v]) => (v as { data_offsets: [number, number] }).data_offsets).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let end = 0;
  for (const [b, e] of spans) { tt.equal(b, end, 'no gap between tensors'); end = e; }
  tt.equal(8 + headerLen + end, bytes.length, 'the data fills the file');
  // every tensor's data is aligned to its item size in the file
  for (const [k, v] of Object.entries(header)) {
    if (k === '__metadata__') continue;
    const { dtype, data_offsets: [b] } = v as { dtype: string; data_offsets: [number, number] };
    const size = { F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, U8: 1, BOOL: 1 }[dtype]!;
    tt.equal((8 + headerLen + b) % size, 0, `${k} aligned to ${size}`);
  }
});

t.test('safetensors: int64 is written as real 64-bit integers', async (tt) => {
  const bytes = serializeSafetensors({ x: rec('int64', [3], Float64Array.from([-1, 2 ** 40 + 3, 7])) });
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const raw = bytes.slice(8 + headerLen);
  tt.same([...new BigInt64Array(raw.buffer)], [-1n, 2n ** 40n + 3n, 7n]);
});

t.test('safetensors: files on disk, written atomically', async (tt) => {
  const p = path.join(tmp, 'a.safetensors');
  writeSafetensorsFile(p, [['b', rec('float64', [2], Float64Array.from([1, 2]))], ['a', rec('bool', [1], Uint8Array.from([1]))]]);
  const back = readSafetensorsFile(p);
  tt.same(Object.keys(back.tensors), ['b', 'a']);
  tt.same([...back.tensors.b.data], [1, 2]);
  tt.equal(back.metadata, null);
  tt.same(fs.readdirSync(tmp).filter((f) => f.includes('.tmp-')), [], 'no temporary file left behind');
  throwsTorch(tt, () => writeSafetensorsFile(path.join(tmp, 'no', 'such', 'dir.st'), { a: rec('float32', [1], new Float32Array(1)) }), /cannot write .*dir\.st/, 'unwritable path');
  throwsTorch(tt, () => readSafetensorsFile(path.join(tmp, 'missing.safetensors')), /cannot open .*missing\.safetensors/, 'missing file');
});

t.test('safetensors: refuses bad records when writing', async (tt) => {
  throwsTorch(tt, () => serializeSafetensors({ a: rec('float32', [2, 2], new Float32Array(3)) }), /"a".*4 elements.*3/, 'length mismatch');
  throwsTorch(tt, () => serializeSafetensors({ a: rec('int64', [1], new Float32Array(1) as never) }), /Float64Array/, 'wrong host array');
  throwsTorch(tt, () => serializeSafetensors({ __metadata__: rec('float32', [1], new Float32Array(1)) }), /reserved/, 'reserved name');
  throwsTorch(tt, () => serializeSafetensors({ a: rec('complex64' as DType, [1], new Float32Array(1)) }), /unknown dtype/, 'unknown dtype');
  throwsTorch(tt, () => serializeSafetensors({ a: rec('int64', [1], Float64Array.from([NaN])) }), /not an integer/, 'NaN in int64');
});

t.test('safetensors: the hand-written Python fixture', async (tt) => {
  const st = readSafetensorsFile(path.join(FIX, 'handmade.safetensors'));
  const exp = expected['handmade.safetensors'];
  tt.same({ ...st.metadata }, exp.metadata);
  tt.same(Object.keys(st.tensors), Object.keys(exp.tensors));
  const toDtype: Record<string, DType> = { F32: 'float32', F64: 'float64', I64: 'int64', I32: 'int32', U8: 'uint8', BOOL: 'bool', F16: 'float16', BF16: 'bfloat16' };
  for (const [name, e] of Object.entries(exp.tensors) as [string, { fileDtype: string; shape: number[]; values: number[] | null; bits: number[] | null }][]) {
    const r = st.tensors[name];
    tt.equal(r.dtype, toDtype[e.fileDtype], `${name} dtype`);
    tt.same(r.shape, e.shape, `${name} shape`);
    if (e.bits) tt.same([...r.data], e.bits, `${name} bits`);
    if (e.values && r.dtype === 'float16') tt.same([...r.data].map(f16ToF32), e.values, `${name} values`);
    else if (e.values) tt.same([...r.data], e.values, `${name} values`);
  }
  tt.equal(bf16ToF32(st.tensors.brain.data[1]), -3.140625);
});

const PY = '/usr/bin/python3';
const hasTorch = fs.existsSync(PY) && spawnSync(PY, ['-c', 'import torch'], { timeout: 60000 }).status === 0;
t.test('safetensors: files torchlet writes read back in Python (struct + torch.frombuffer)', { skip: hasTorch ? false : 'no /usr/bin/python3 with torch' }, async (tt) => {
  const p = path.join(tmp, 'for_python.safetensors');
  const tensors: Record<string, TensorRecord> = {
    w: rec('float32', [2, 2], Float32Array.from([1.5, -2, 0.25, 8])),
    d: rec('float64', [1], Float64Array.from([Math.PI])),
    n: rec('int64', [2], Float64Array.from([-(2 ** 45), 3])),
    h: rec('float16', [1], Uint16Array.from([0x3e00])),
    k: rec('bool', [2], Uint8Array.from([0, 1])),
    s: rec('int32', [], Int32Array.from([-9])),
  };
  writeSafetensorsFile(p, tensors, { by: 'torchlet' });
  const r = spawnSync(PY, [path.join(HERE, '..', 'scripts', 'gen_io_fixtures.py'), '--read', p], { encoding: 'utf8', timeout: 120000 });
  tt.equal(r.status, 0, r.stderr);
  const py = JSON.parse(r.stdout);
  tt.same(py.metadata, { by: 'torchlet' });
  tt.same(py.tensors.w, { dtype: 'float32', shape: [2, 2], values: [1.5, -2, 0.25, 8] });
  tt.same(py.tensors.d.values, [Math.PI]);
  tt.same(py.tensors.n, { dtype: 'int64', shape: [2], values: [-(2 ** 45), 3] });
  tt.same(py.tensors.h.bits, [0x3e00]);
  tt.same(py.tensors.k.values, [0, 1]);
  tt.same(py.tensors.s, { dtype: 'int32', shape: [], values: [-9] });
});

t.test('safetensors: malformed files are clear errors', async (tt) => {
  const good = serializeSafetensors({ a: rec('float32', [2], Float32Array.from([1, 2])), b: rec('uint8', [3], Uint8Array.from([1, 2, 3])) });
  const withHeader = (h: unknown, data = new Uint8Array(16)): Uint8Array => {
    const json = Buffer.from(typeof h === 'string' ? h : JSON.stringify(h));
    const out = new Uint8Array(8 + json.length + data.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    out.set(data, 8 + json.length);
    return out;
  };
  throwsTorch(tt, () => parseSafetensors(new Uint8Array(0), 'e.st'), /e\.st: .*0 bytes.*too short/, 'empty file');
  throwsTorch(tt, () => parseSafetensors(good.subarray(0, 5), 'e.st'), /too short/, '5 bytes');
  throwsTorch(tt, () => parseSafetensors(good.subarray(0, 20), 'cut.st'), /cut\.st: the header length \d+ is larger than the rest of the file/, 'truncated in the header');
  throwsTorch(tt, () => parseSafetensors(good.subarray(0, good.length - 1), 'cut.st'), /cut\.st: tensor "(a|b)": data_offsets .* run past the end of the data/, 'truncated in the data');
  const huge = good.slice();
  new DataView(huge.buffer).setBigUint64(0, 2n ** 63n, true);
  throwsTorch(tt, () => parseSafetensors(huge, 'h.st'), /header length 9223372036854775808 is larger/, 'enormous header length');
  throwsTorch(tt, () => parseSafetensors(withHeader('{"a": '), 'j.st'), /not valid JSON/, 'bad JSON');
  throwsTorch(tt, () => parseSafetensors(withHeader('[1, 2]'), 'j.st'), /not a JSON object/, 'JSON array');
  throwsTorch(tt, () => parseSafetensors(withHeader('\xff\xfe{}'.replace(/./g, (c) => c)), 'u.st'), /UTF-8|JSON/, 'bad header bytes');
  const bad = Buffer.from('{"a":1}'); bad[1] = 0xff;
  throwsTorch(tt, () => parseSafetensors(withHeader(bad.toString('latin1')), 'u.st'), /UTF-8|JSON/, 'non-UTF-8');
  throwsTorch(tt, () => parseSafetensors(withHeader({ a: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }), 'd.st'), /tensor "a": unknown or unsupported dtype "F8_E4M3"/, 'unknown dtype');
  throwsTorch(tt, () => parseSafetensors(withHeader({ a: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }), 'd.st'), /"C64"/, 'complex dtype');
  throwsTorch(tt, () => parseSafetensors(withHeader({ a: { shape: [1], data_offsets: [0, 4] } }), 'd.st'), /missing or non-string "dtype"/, 'no dtype');
  throwsTorch(tt, () => parseSafetensors(withHeader({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }), 's.st'), /"shape" must be an array of non-negative integers/, 'negative dim');
  throwsTorch(tt, () => parseSafetensors(withHeader({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }), 's.st'), /"shape"/, 'fractional dim');
  throwsTorch(tt, () => parseSafetensors(withHeader({ a: { dtype: 'F32', shape: 'x', data_offsets: [0, 4] } }), 's.st'), /"shape"/, 'shape not an array');
  throwsTorch(tt, () => parseSafetensors(withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }), 'n.st'), /shape \[2\] of F32 needs 8 bytes but data_offsets \[0, 4\] span 4/, 'numel * itemsize mismatch');
  throwsTorch(tt, () => parseSafetensors(withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [16, 20] } }), 'o.st'), /data_offsets \[16, 20\] run past the end of the data \(16 bytes\)/, 'offsets out of range');
  throwsTorch(tt, () => parseSafetensors(withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }), 'o.st'), /begin after end/, 'begin > end');
  throwsTorch(tt, () => parseSafetensors(withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [0] } }), 'o.st'), /"data_offsets" must be \[begin, end\]/, 'one offset');
  throwsTorch(tt, () => parseSafetensors(withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }), 'o.st'), /"data_offsets"/, 'negative offset');
  throwsTorch(tt, () => parseSafetensors(withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }), 'ov.st'), /"a" and "b" have overlapping data_offsets/, 'overlap');
  throwsTorch(tt, () => parseSafetensors(withHeader({ __metadata__: { a: 1 } }), 'm.st'), /__metadata__\["a"\] must be a string/, 'metadata value');
  throwsTorch(tt, () => parseSafetensors(withHeader({ __metadata__: [1] }), 'm.st'), /__metadata__ must be an object/, 'metadata array');
  throwsTorch(tt, () => parseSafetensors(withHeader({ a: 5 }), 'x.st'), /tensor "a": the entry is not an object/, 'entry not an object');
  // zero-length tensors may share an offset; widened narrow integer types load
  const ok = parseSafetensors(withHeader({ z: { dtype: 'F32', shape: [0], data_offsets: [0, 0] }, y: { dtype: 'I16', shape: [2], data_offsets: [0, 4] }, u: { dtype: 'U16', shape: [2], data_offsets: [4, 8] }, i8: { dtype: 'I8', shape: [2], data_offsets: [8, 10] } },
    Uint8Array.from([0xff, 0xff, 2, 0, 0xff, 0xff, 1, 0, 0x80, 0x7f, 0, 0, 0, 0, 0, 0])), 'ok.st');
  tt.same(ok.tensors.z.shape, [0]);
  tt.equal(ok.tensors.y.dtype, 'int32');
  tt.same([...ok.tensors.y.data], [-1, 2]);
  tt.same([...ok.tensors.u.data], [65535, 1]);
  tt.same([...ok.tensors.i8.data], [-128, 127]);
});

/** Mutates `good` many ways; every parse must succeed or throw a TorchError, never anything else. */
function fuzz(tt: Test, good: Uint8Array, parse: (b: Uint8Array) => unknown, what: string, rounds = 1500): void {
  let seed = 12345;
  const rand = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
  let other = 0, errors = 0, ok = 0;
  const messages: string[] = [];
  for (let i = 0; i < rounds; i++) {
    let b = good.slice();
    const kind = rand(4);
    if (kind === 0) b = b.subarray(0, rand(b.length));
    else if (kind === 1) for (let k = 0, m = 1 + rand(4); k < m; k++) b[rand(b.length)] = rand(256);
    else if (kind === 2) { const at = rand(b.length); b[at] ^= 1 << rand(8); }
    else { const at = rand(b.length - 8); new DataView(b.buffer).setUint32(at, rand(2) ? 0xffffffff : rand(1 << 16), true); }
    try {
      parse(b);
      ok++;
    } catch (e) {
      if (e instanceof TorchError) errors++;
      else { other++; if (messages.length < 5) messages.push(`${(e as Error)?.name}: ${(e as Error)?.message}`); }
    }
  }
  tt.equal(other, 0, `${what}: ${rounds} mutated inputs give a value or a TorchError (${ok} parsed, ${errors} TorchErrors) ${messages.join(' | ')}`);
}

t.test('safetensors: fuzzed files never crash', async (tt) => {
  const good = serializeSafetensors({
    a: rec('float32', [2, 3], new Float32Array(6).fill(1.5)),
    b: rec('int64', [2], Float64Array.from([1, -2])),
    c: rec('bool', [3], Uint8Array.from([1, 0, 1])),
  }, { k: 'v' });
  fuzz(tt, good, (b) => parseSafetensors(b, 'fuzz.st'), 'safetensors');
});

// =====================================================================================
t.test('pickle: plain containers in every protocol', async (tt) => {
  for (const [proto, hex] of Object.entries(expected.pickles as Record<string, string>)) {
    const v = unpickleData(new Uint8Array(Buffer.from(hex, 'hex')), `protocol ${proto}`) as Record<string, unknown>;
    tt.same(v.ints, [0, 1, -1, 255, 256, 65535, 65536, -(2 ** 31), 2 ** 31 - 1, 2 ** 40, -(2 ** 52)], `p${proto} ints`);
    tt.equal(v.big, 2n ** 70n, `p${proto} big`);
    tt.equal(v.negbig, -(2n ** 65n) - 1n, `p${proto} negbig`);
    tt.same(v.floats, [0.5, -1e300, 3.141592653589793], `p${proto} floats`);
    tt.equal(v.none, null, `p${proto} None`);
    tt.same(v.flags, [true, false], `p${proto} bools`);
    tt.equal(v.text, 'ascii');
    tt.equal(v.unicode, 'ünïcødé ✓ \u{1F600}', `p${proto} unicode`);
    tt.same([...(v.bytes as Uint8Array)], [0, 1, 255], `p${proto} bytes`);
    tt.same(v.nested, { 1: 'one', 2: ['two', [2]] }, `p${proto} nested`);
    tt.same(v.tuples, [[], [1], [1, 2], [1, 2, 3], [1, 2, 3, 4]], `p${proto} tuples`);
    tt.same(v.set, [7], `p${proto} set`);
    const shared = v.shared as unknown[][];
    tt.equal(shared[0], shared[1], `p${proto} shared references stay shared`);
  }
});

t.test('pickle: hostile and corrupt pickles are refused, never run', async (tt) => {
  const sys = pk(P.proto, P.global('os', 'system'), P.mark, P.str('echo pwned'), P.tuple, P.reduce, P.stop);
  throwsTorch(tt, () => unpickleData(sys, 'evil.pkl'), /evil\.pkl: refusing to load the global os\.system/, 'os.system');
  const ev = pk(P.proto, P.global('builtins', 'eval'), P.mark, P.str('1+1'), P.tuple, P.reduce, P.stop);
  throwsTorch(tt, () => unpickleData(ev, 'evil.pkl'), /builtins\.eval/, 'builtins.eval');
  const stackGlobal = pk([0x80, 4], [0x8c, 2, ...Buffer.from('os')], [0x8c, 6, ...Buffer.from('system')], [0x93], P.stop);
  throwsTorch(tt, () => unpickleData(stackGlobal, 'evil.pkl'), /os\.system/, 'STACK_GLOBAL os.system');
  const inst = pk(P.proto, P.mark, [0x69, ...Buffer.from('os\nsystem\n')], P.stop);
  throwsTorch(tt, () => unpickleData(inst, 'evil.pkl'), /INST opcode .* not allowed/, 'INST');
  const obj = pk(P.proto, P.mark, P.global('collections', 'OrderedDict'), [0x6f], P.stop);
  throwsTorch(tt, () => unpickleData(obj, 'evil.pkl'), /OBJ opcode/, 'OBJ');
  const callStr = pk(P.proto, P.str('x'), P.emptyTuple, P.reduce, P.stop);
  throwsTorch(tt, () => unpickleData(callStr, 'evil.pkl'), /REDUCE calls a string/, 'calling a non-global');
  throwsTorch(tt, () => unpickleData(pk(P.proto, P.emptyDict), 't.pkl'), /ended without a STOP/, 'no STOP');
  throwsTorch(tt, () => unpickleData(pk(P.proto, [0x58, 10, 0, 0, 0, 0x61], P.stop), 't.pkl'), /truncated while reading a BINUNICODE/, 'truncated string');
  throwsTorch(tt, () => unpickleData(pk(P.proto, [0x68, 5], P.stop), 't.pkl'), /memo key 5 is not set/, 'bad memo');
  throwsTorch(tt, () => unpickleData(pk(P.proto, P.stop), 't.pkl'), /stack underflow/, 'empty stack');
  throwsTorch(tt, () => unpickleData(pk(P.proto, [0xff], P.stop), 't.pkl'), /unknown pickle opcode 0xff/, 'unknown opcode');
  throwsTorch(tt, () => unpickleData(pk(P.proto, P.setitems, P.stop), 't.pkl'), /no MARK/, 'SETITEMS without MARK');
  throwsTorch(tt, () => unpickleData(pk(P.proto, P.none, P.mark, P.str('k'), P.none, P.setitems, P.stop), 't.pkl'), /SETITEM\(S\) on a None/, 'SETITEMS on None');
  throwsTorch(tt, () => unpickleData(pk(P.proto, [0x51], P.stop), 't.pkl'), /persistent ids are not allowed|underflow/, 'BINPERSID with no loader');
  throwsTorch(tt, () => unpickleData(pk(P.proto, [0x5d], P.emptyDict, [0x62], P.stop), 't.pkl'), /BUILD on a list is not allowed/, 'BUILD on a list');
  // deep nesting is an error, not a stack overflow
  const deep = pk(P.proto, Array(5000).fill(0x5d), Array(4999).fill(0x61), P.stop);
  throwsTorch(tt, () => unpickleData(deep, 'deep.pkl'), /nested more than 1000 deep/, 'deep nesting');
  // a self-referential list converts without looping
  const cyc = pk(P.proto, [0x5d, 0x71, 0, 0x68, 0, 0x61], P.stop);
  const c = unpickleData(cyc, 'cyc.pkl') as unknown[];
  tt.equal(c[0], c, 'a cycle is kept as a cycle');
  // a "__proto__" key stays an own key
  const proto = unpickleData(pk(P.proto, P.emptyDict, P.str('__proto__'), P.int1(1), [0x73], P.stop), 'p.pkl') as Record<string, unknown>;
  tt.ok(Object.hasOwn(proto, '__proto__'));
  tt.equal(Object.getPrototypeOf(proto), Object.prototype);
});

t.test('pickle: fuzzed pickles never crash', async (tt) => {
  for (const p of ['2', '4', '0']) fuzz(tt, new Uint8Array(Buffer.from(expected.pickles[p], 'hex')), (b) => unpickleData(b, 'fuzz.pkl'), `pickle protocol ${p}`, 1000);
});

// =====================================================================================
t.test('zip: reads stored and deflated entries; refuses bad archives', async (tt) => {
  const files: [string, Uint8Array][] = [['a.txt', new Uint8Array(Buffer.from('hello'))], ['dir/b.bin', Uint8Array.from({ length: 1000 }, (_, i) => i % 7)]];
  for (const deflate of [false, true]) {
    const z = makeZip(files, deflate);
    const src = bufferSource(z, 'z.zip');
    const entries = readZipDirectory(src);
    tt.same(entries.map((e) => e.name), ['a.txt', 'dir/b.bin']);
    tt.same([...readZipEntry(src, entries[1])], [...files[1][1]], `entry data (deflate=${deflate})`);
  }
  const z64 = makeZip(files, false, true);
  const s64 = bufferSource(z64, 'z64.zip');
  const e64 = readZipDirectory(s64);
  tt.same(e64.map((e) => [e.name, e.size]), [['a.txt', 5], ['dir/b.bin', 1000]], 'zip64 sizes from the extra field');
  tt.same([...readZipEntry(s64, e64[1])], [...files[1][1]], 'zip64 entry data');
  const bad64 = z64.slice(); new DataView(bad64.buffer).setUint32(z64.length - 22 - 20 - 56, 0, true);
  throwsTorch(tt, () => readZipDirectory(bufferSource(bad64, 'z64.zip')), /bad zip64 end-of-central-directory signature/, 'zip64 record');
  const z = makeZip(files);
  const cdAt = new DataView(z.buffer).getUint32(z.length - 6, true);
  const badSig = z.slice(); badSig[cdAt] = 0;
  throwsTorch(tt, () => readZipDirectory(bufferSource(badSig, 'bad.zip')), /bad\.zip: central directory entry 0 has a bad signature/, 'central directory signature');
  const badOff = z.slice(); new DataView(badOff.buffer).setUint32(z.length - 6, 0x7fffffff, true);
  throwsTorch(tt, () => readZipDirectory(bufferSource(badOff, 'bad.zip')), /central directory .* lies outside the archive/, 'central directory offset');
  const badCount = z.slice(); new DataView(badCount.buffer).setUint16(z.length - 12, 5000, true);
  throwsTorch(tt, () => readZipDirectory(bufferSource(badCount, 'bad.zip')), /claims 5000 entries/, 'entry count');
  const badLocal = z.slice(); new DataView(badLocal.buffer).setUint32(cdAt + 42, cdAt - 10, true);
  throwsTorch(tt, () => readZipDirectory(bufferSource(badLocal, 'bad.zip')), /local header offset/, 'local header offset');
  const badName = z.slice(); new DataView(badName.buffer).setUint16(cdAt + 28, 60000, true);
  throwsTorch(tt, () => readZipDirectory(bufferSource(badName, 'bad.zip')), /runs past the end of the directory/, 'name length');
  const badCrc = z.slice(); badCrc[30 + 5] ^= 1; // flip a byte of a.txt's data
  const src = bufferSource(badCrc, 'crc.zip');
  throwsTorch(tt, () => readZipEntry(src, readZipDirectory(src)[0]), /CRC-32 mismatch/, 'CRC');
  throwsTorch(tt, () => readZipDirectory(bufferSource(z.subarray(0, z.length - 30), 'cut.zip')), /no end-of-central-directory record/, 'truncated archive');
  throwsTorch(tt, () => readZipDirectory(bufferSource(new Uint8Array(10), 'tiny.zip')), /too short/, 'tiny');
  const badDeflate = makeZip([['x', new Uint8Array(100).fill(3)]], true);
  badDeflate[32] ^= 0xff;
  const s2 = bufferSource(badDeflate, 'inflate.zip');
  throwsTorch(tt, () => readZipEntry(s2, readZipDirectory(s2)[0]), /inflate|CRC|inflated/, 'corrupt deflate stream');
});

// =====================================================================================
t.test('torch.save files: a state dict with every dtype and non-contiguous views', async (tt) => {
  const sd = readTorchFile(path.join(FIX, 'state_dict.pt')) as Record<string, TensorRecord>;
  const exp = expected['state_dict.pt'] as Record<string, Expect>;
  tt.same(Object.keys(sd), Object.keys(exp), 'keys in order');
  for (const [k, e] of Object.entries(exp)) matches(tt, sd[k], e, k);
  tt.same(sd.transposed.shape, [6, 4]);
  tt.same([...sd.transposed.data.subarray(0, 4)], [0, 1.5, 3, 4.5], 'the transposed view was made contiguous');
  tt.same([...sd.offset_view.data], [3, 4, 5, 6], 'storage offset honoured');
  tt.same([...sd.step_slice.data], [0, 3, 6, 9], 'stride honoured');
  tt.not(sd.offset_view.data.buffer, sd.shared_head.data.buffer, 'views of one storage get their own data');
  tt.same([...sd.i64.data], [0, -1, 2 ** 40, -(2 ** 52), 7, 123456789012], 'int64 exact');
});

t.test('torch.save files: a Linear + BatchNorm model state dict', async (tt) => {
  const sd = readTorchFile(path.join(FIX, 'model.pt')) as Record<string, TensorRecord>;
  tt.same(Object.keys(sd), expected['model.pt.order']);
  for (const [k, e] of Object.entries(expected['model.pt'] as Record<string, Expect>)) matches(tt, sd[k], e, k);
  tt.equal(sd['1.num_batches_tracked'].dtype, 'int64');
  tt.same(sd['1.num_batches_tracked'].shape, []);
  tt.same([...sd['1.num_batches_tracked'].data], [1]);
});

t.test('torch.save files: an optimizer state dict loads as nested objects', async (tt) => {
  const seen: TensorInfo[] = [];
  const osd = readTorchFile(path.join(FIX, 'optimizer.pt'), { tensor: (r, info) => { seen.push(info); return r; } }) as {
    state: Record<string, Record<string, TensorRecord>>; param_groups: Record<string, unknown>[];
  };
  const exp = expected['optimizer.pt'];
  tt.same(Object.keys(osd.state), ['0', '1', '2', '3'], 'integer keys become strings');
  matches(tt, osd.state['0'].exp_avg, exp.exp_avg_0, 'exp_avg');
  if (typeof exp.step_0 === 'object') matches(tt, osd.state['0'].step, exp.step_0, 'step');
  tt.same(osd.param_groups, exp.param_groups, 'param groups (tuples become arrays, None null)');
  tt.ok(seen.some((i) => i.path === 'state.0.exp_avg'), 'tensor paths are reported');
});

t.test('torch.save files: a bare Parameter keeps requiresGrad', async (tt) => {
  let info: TensorInfo | null = null;
  const p = readTorchFile(path.join(FIX, 'parameter.pt'), { tensor: (r, i) => { info = i; return r; } }) as TensorRecord;
  matches(tt, p, expected['parameter.pt'], 'parameter');
  tt.same(info, { path: '', requiresGrad: true, isParameter: true });
});

t.test('torch.save files: refused with advice', async (tt) => {
  throwsTorch(tt, () => readTorchFile(path.join(FIX, 'full_model.pt')), /full_model\.pt.*refusing to load the global torch\.nn\.modules\.container\.Sequential.*state_dict\(\)/, 'a pickled Module');
  throwsTorch(tt, () => readTorchFile(path.join(FIX, 'legacy.pt')), /legacy\.pt: .*legacy .*re-save/, 'the legacy format');
  throwsTorch(tt, () => parseTorch(new Uint8Array(Buffer.from('hello world, no zip here')), 'x.pt'), /x\.pt: not a zip archive/, 'not a zip');
  throwsTorch(tt, () => parseTorch(makeZip([['a/b.txt', new Uint8Array(1)]]), 'x.pt'), /no <archive>\/data\.pkl/, 'a zip of something else');
  throwsTorch(tt, () => parseTorch(makeZip([['m/constants.pkl', new Uint8Array(1)], ['m/code/x.py', new Uint8Array(1)]]), 'x.pt'), /TorchScript/, 'TorchScript');
  throwsTorch(tt, () => readTorchFile(path.join(tmp, 'nope.pt')), /cannot open .*nope\.pt/, 'missing file');
});

t.test('torch.save files: hostile and corrupt archives', async (tt) => {
  const evil = torchZip(pk(P.proto, P.global('os', 'system'), P.mark, P.str('touch /tmp/pwned'), P.tuple, P.reduce, P.stop));
  throwsTorch(tt, () => parseTorch(evil, 'evil.pt'), /evil\.pt \(archive\/data\.pkl\): refusing to load the global os\.system/, 'os.system');
  const ev = torchZip(pk(P.proto, P.global('builtins', 'eval'), P.mark, P.str('1'), P.tuple, P.reduce, P.stop));
  throwsTorch(tt, () => parseTorch(ev, 'evil.pt'), /builtins\.eval/, 'builtins.eval');
  const f4 = new Uint8Array(Float32Array.from([1, 2, 3, 4]).buffer);
  // a well-formed crafted one loads
  const ok = parseTorch(torchZip(tensorPickle(4, 1, [3], [1]), { 0: f4 }), 'ok.pt') as Record<string, TensorRecord>;
  tt.same([...ok.w.data], [2, 3, 4]);
  const t2 = parseTorch(torchZip(tensorPickle(4, 0, [2, 2], [1, 2]), { 0: f4 }), 'ok.pt') as Record<string, TensorRecord>;
  tt.same([...t2.w.data], [1, 3, 2, 4], 'column-major strides');
  // storages written on a big-endian machine are byte-swapped
  const beBytes = new Uint8Array(16); [1, 2, 3, 4].forEach((v, i) => new DataView(beBytes.buffer).setFloat32(4 * i, v, false));
  const be = parseTorch(makeZip([['archive/data.pkl', tensorPickle(4, 0, [4], [1])], ['archive/byteorder', new Uint8Array(Buffer.from('big'))], ['archive/data/0', beBytes]]), 'be.pt') as Record<string, TensorRecord>;
  tt.same([...be.w.data], [1, 2, 3, 4], 'big-endian storages');
  throwsTorch(tt, () => parseTorch(torchZip(tensorPickle(4, 0, [3], [1])), 'm.pt'), /storage "0" is referenced but the archive has no archive\/data\/0/, 'missing storage');
  throwsTorch(tt, () => parseTorch(torchZip(tensorPickle(5, 0, [3], [1]), { 0: f4 }), 'm.pt'), /should hold 5 elements .* 16 bytes/, 'storage size');
  throwsTorch(tt, () => parseTorch(torchZip(tensorPickle(4, 2, [3], [1]), { 0: f4 }), 'm.pt'), /reaches element 4 of a storage of 4 elements/, 'past the storage end');
  throwsTorch(tt, () => parseTorch(torchZip(tensorPickle(4, 0, [2, 2], [2, 3]), { 0: f4 }), 'm.pt'), /reaches element 5/, 'strides past the end');
  throwsTorch(tt, () => parseTorch(torchZip(tensorPickle(4, 0, [3], [1, 1]), { 0: f4 }), 'm.pt'), /bad stride/, 'stride rank');
  throwsTorch(tt, () => parseTorch(torchZip(tensorPickle(4, 0, [3], [1], 'ComplexFloatStorage'), { 0: f4 }), 'm.pt'), /torch\.ComplexFloatStorage holds a dtype torchlet does not support/, 'complex storage');
  // a stride-0 view of one element blown up to 2^30 elements: refused, not allocated
  throwsTorch(tt, () => parseTorch(torchZip(tensorPickle(4, 0, [32768, 32768], [0, 0]), { 0: f4 }), 'bomb.pt'), /refusing to load/, 'allocation bomb');
  // bad central directory inside a real torch file
  const real = new Uint8Array(fs.readFileSync(path.join(FIX, 'model.pt')));
  const cdAt = new DataView(real.buffer).getUint32(real.length - 6, true);
  const broken = real.slice(); broken[cdAt + 1] ^= 0xff;
  throwsTorch(tt, () => parseTorch(broken, 'broken.pt'), /broken\.pt: central directory entry 0 has a bad signature/, 'bad central directory');
  throwsTorch(tt, () => parseTorch(real.subarray(0, 1000), 'cut.pt'), /cut\.pt: no end-of-central-directory/, 'truncated .pt');
});

t.test('torch.save files: fuzzed archives never crash', async (tt) => {
  const real = new Uint8Array(fs.readFileSync(path.join(FIX, 'state_dict.pt')));
  fuzz(tt, real, (b) => parseTorch(b, 'fuzz.pt'), 'state_dict.pt', 1500);
  // fuzz the pickle itself, re-wrapped with valid CRCs so the interpreter sees the damage
  const src = bufferSource(real, 'x');
  const entries = readZipDirectory(src);
  const files = entries.map((e) => [e.name, readZipEntry(src, e).slice()] as [string, Uint8Array]);
  const pi = files.findIndex(([n]) => n.endsWith('data.pkl'));
  fuzz(tt, files[pi][1], (b) => parseTorch(makeZip(files.map(([n, d], i) => [n, i === pi ? b : d])), 'fuzz.pt'), 'data.pkl', 1500);
});

// =====================================================================================
function idxBytes(typeCode: number, dims: number[], body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + body.length);
  const dv = new DataView(out.buffer);
  out[2] = typeCode; out[3] = dims.length;
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  out.set(body, 4 + 4 * dims.length);
  return out;
}

t.test('IDX: parsing, gzip, element types, and errors', async (tt) => {
  const images = idxBytes(0x08, [2, 2, 3], Uint8Array.from({ length: 12 }, (_, i) => i * 20));
  for (const [b, what] of [[images, 'raw'], [new Uint8Array(zlib.gzipSync(images)), 'gzipped']] as const) {
    const r = parseIdx(b, what, 0x803);
    tt.equal(r.dtype, 'uint8');
    tt.same(r.shape, [2, 2, 3]);
    tt.same([...r.data], Array.from({ length: 12 }, (_, i) => i * 20), what);
  }
  const be = new Uint8Array(8); new DataView(be.buffer).setInt32(0, -5, false); new DataView(be.buffer).setInt32(4, 70000, false);
  const ints = parseIdx(idxBytes(0x0c, [2], be), 'ints');
  tt.equal(ints.dtype, 'int32');
  tt.same([...ints.data], [-5, 70000], 'big-endian int32');
  const fb = new Uint8Array(8); new DataView(fb.buffer).setFloat64(0, -0.125, false);
  tt.same([...parseIdx(idxBytes(0x0e, [1], fb), 'f64').data], [-0.125]);
  tt.same([...parseIdx(idxBytes(0x09, [2], Uint8Array.from([0xff, 5])), 's8').data], [-1, 5]);
  throwsTorch(tt, () => parseIdx(images, 'lab.idx', 0x801), /lab\.idx: magic number 0x00000803, expected 0x00000801 \(a labels file\)/, 'wrong kind');
  throwsTorch(tt, () => parseIdx(images.subarray(0, images.length - 1), 'cut.idx'), /need 12 bytes of data but the file has 11; it is truncated/, 'truncated data');
  throwsTorch(tt, () => parseIdx(images.subarray(0, 9), 'cut.idx'), /declares 3 dimensions but the file ends at byte 9/, 'truncated header');
  throwsTorch(tt, () => parseIdx(Uint8Array.from([...images, 0]), 'long.idx'), /has 13; it is corrupt/, 'trailing bytes');
  throwsTorch(tt, () => parseIdx(Uint8Array.from([1, 2, 8, 1, 0, 0, 0, 0]), 'm.idx'), /bad magic number 0x01020801: not an IDX file/, 'bad magic');
  throwsTorch(tt, () => parseIdx(Uint8Array.from([0, 0, 7, 1, 0, 0, 0, 0]), 'm.idx'), /unknown IDX element type 0x7/, 'bad type');
  const gz = new Uint8Array(zlib.gzipSync(images));
  throwsTorch(tt, () => parseIdx(gz.subarray(0, gz.length - 10), 'cut.gz'), /cut\.gz: cannot decompress the gzip data/, 'truncated gzip');
  throwsTorch(tt, () => readIdxFile(path.join(tmp, 'none-idx3-ubyte')), /cannot read .*none-idx3-ubyte/, 'missing file');
  const huge = idxBytes(0x08, [0xffffffff, 0xffffffff], new Uint8Array(0));
  throwsTorch(tt, () => parseIdx(huge, 'huge.idx'), /need \d+ bytes of data but the file has 0/, 'absurd dimensions');
  fuzz(tt, images, (b) => parseIdx(b, 'fuzz.idx'), 'idx', 500);
});

const FMNIST = '/usr/share/datasets/fashion-mnist';
const haveFashion = fs.existsSync(path.join(FMNIST, 'train-labels-idx1-ubyte.gz'));
t.test('IDX: the real Fashion-MNIST files', { skip: haveFashion ? false : `no Fashion-MNIST under ${FMNIST} (apt-get install dataset-fashion-mnist)` }, async (tt) => {
  const trainLabels = readIdxFile(path.join(FMNIST, 'train-labels-idx1-ubyte.gz'), 0x801);
  tt.same(trainLabels.shape, [60000]);
  tt.same([...trainLabels.data.subarray(0, 12)], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9]);
  const testLabels = readIdxFile(path.join(FMNIST, 't10k-labels-idx1-ubyte.gz'), 0x801);
  tt.same(testLabels.shape, [10000]);
  tt.same([...testLabels.data.subarray(0, 12)], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5]);
  const trainImages = readIdxFile(path.join(FMNIST, 'train-images-idx3-ubyte.gz'), 0x803);
  tt.same(trainImages.shape, [60000, 28, 28]);
  tt.equal(trainImages.dtype, 'uint8');
  let sum = 0;
  for (let i = 0; i < 784; i++) sum += trainImages.data[i];
  tt.equal(sum, 76247, 'pixel sum of the first training image');
  const testImages = readIdxFile(path.join(FMNIST, 't10k-images-idx3-ubyte.gz'), 0x803);
  tt.same(testImages.shape, [10000, 28, 28]);
});

// =====================================================================================
// The tensor layer: torch.save / torch.load
t.test('save/load: tensors round trip through safetensors', async (tt) => {
  const torch = (await import('../src/index.js')).default;
  const { save, load, saveAsync } = await import('../src/io/index.js');
  const sd = {
    w: torch.tensor([[1.5, -2], [0.25, 8]]),
    wt: torch.tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float64' }).t(), // non-contiguous
    n: torch.tensor([-(2 ** 45), 3, 0], { dtype: 'int64' }),
    i: torch.tensor([-7, 9], { dtype: 'int32' }),
    u: torch.tensor([0, 255], { dtype: 'uint8' }),
    b: torch.tensor([true, false, true]),
    h: torch.tensor([1.5, -0.0999755859375, 65504, Infinity], { dtype: 'float16' }),
    bf: torch.tensor([1, -3.140625, 1e30], { dtype: 'bfloat16' }),
    s: torch.tensor(3.25),
    e: torch.zeros([0, 4]),
  };
  const p = path.join(tmp, 'sd.safetensors');
  save(sd, p, { metadata: { epoch: '3' } });
  const back = load(p);
  tt.same(Object.keys(back), Object.keys(sd), 'keys in order');
  for (const [k, v] of Object.entries(sd)) {
    tt.ok(back[k] instanceof torch.Tensor, `${k} is a Tensor`);
    tt.equal(back[k].dtype, v.dtype, `${k} dtype`);
    tt.same(back[k].shape, v.shape, `${k} shape`);
    tt.same(back[k].tolist(), v.tolist(), `${k} values`);
    tt.equal(back[k].requiresGrad, false);
  }
  tt.same(back.wt.tolist(), [[1, 4], [2, 5], [3, 6]], 'the transposed view saved in logical order');
  tt.equal(readSafetensorsFile(p).metadata!.epoch, '3', 'metadata written');
  tt.same([...readSafetensorsFile(p).tensors.h.data], [0x3e00, 0xae66, 0x7bff, 0x7c00], 'float16 bits exact');
  const p2 = path.join(tmp, 'sd2.safetensors');
  await saveAsync(new Map([['x', torch.arange(5)]]), p2);
  tt.same(load(p2).x.tolist(), [0, 1, 2, 3, 4], 'saveAsync and Map input');
  throwsTorch(tt, () => save({ a: torch.ones(2), nested: { b: torch.ones(1) } } as never, path.join(tmp, 'x.st')), /save: "nested" is a object, not a Tensor|save: "nested" is an? object/, 'nested objects');
  throwsTorch(tt, () => save(torch.ones(2) as never, path.join(tmp, 'x.st')), /single Tensor/, 'a bare tensor');
  throwsTorch(tt, () => save({ stateDict: () => ({}) } as never, path.join(tmp, 'x.st')), /model\.stateDict\(\)/, 'a module');
  throwsTorch(tt, () => load(path.join(tmp, 'missing.pt')), /load: cannot open .*missing\.pt/, 'missing file');
  const junk = path.join(tmp, 'junk.bin');
  fs.writeFileSync(junk, 'this is not a tensor file at all');
  throwsTorch(tt, () => load(junk), /junk\.bin: the header length \d+ is larger than the rest of the file/, 'a random file');
});

t.test('load: PyTorch .pt files become tensors', async (tt) => {
  const torch = (await import('../src/index.js')).default;
  const { load } = await import('../src/io/index.js');
  const sd = load(path.join(FIX, 'state_dict.pt'));
  const exp = expected['state_dict.pt'] as Record<string, Expect>;
  tt.same(Object.keys(sd), Object.keys(exp));
  for (const [k, e] of Object.entries(exp)) {
    tt.equal(sd[k].dtype, e.dtype, `${k} dtype`);
    tt.same(sd[k].shape, e.shape, `${k} shape`);
    const flat = sd[k].reshape(-1).tolist() as (number | boolean)[];
    const want = e.dtype === 'bool' ? e.values.map((v) => v === 1) : e.values.map(num);
    if (e.dtype === 'float32') tt.same(flat, want.map((v) => Math.fround(v as number)), `${k} values`);
    else tt.same(flat, want, `${k} values`);
  }
  const model = load(path.join(FIX, 'model.pt'));
  tt.same(Object.keys(model), expected['model.pt.order']);
  tt.equal(model['1.num_batches_tracked'].item(), 1);
  tt.equal(model['1.num_batches_tracked'].dtype, 'int64');
  const p = load<InstanceType<typeof torch.Tensor>>(path.join(FIX, 'parameter.pt'));
  tt.equal(p.requiresGrad, true, 'a saved Parameter requires grad');
  tt.same(p.tolist(), [[1, 2], [3, 4]]);
  const opt = load<{ state: Record<string, Record<string, InstanceType<typeof torch.Tensor>>>; param_groups: { lr: number }[] }>(path.join(FIX, 'optimizer.pt'));
  tt.ok(opt.state['0'].exp_avg instanceof torch.Tensor);
  tt.equal(opt.param_groups[0].lr, 0.001);
  throwsTorch(tt, () => load(path.join(FIX, 'legacy.pt')), /legacy/, 'legacy format');
  throwsTorch(tt, () => load(path.join(FIX, 'full_model.pt')), /state_dict\(\)/, 'a pickled module');
});
