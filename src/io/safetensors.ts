/**
 * safetensors: an 8-byte little-endian header length N, N bytes of JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: { str: str } }`,
 * then the tensors' raw little-endian bytes, offsets relative to the end of the header.
 * Every field is validated before any tensor is read.
 */
import * as fs from 'node:fs';
import { TorchError } from '../errors.js';
import { ITEMSIZE, type DType } from '../dtype.js';
import { type ByteSource, type TensorRecord, bufferSource, fileSource, readRange } from './source.js';
import { type FileElementType, FILE_ITEMSIZE, decodeElements, encodeElements, checkRecord, WRITES_AS } from './elements.js';
import { setOwn } from './objects.js';

const OP = 'safetensors';
/** Headers larger than this are rejected (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const FROM_FILE: Record<string, FileElementType> = {
  F64: 'f64', F32: 'f32', F16: 'f16', BF16: 'bf16',
  I64: 'i64', I32: 'i32', I16: 'i16', I8: 'i8',
  U32: 'u32', U16: 'u16', U8: 'u8', BOOL: 'bool',
};
const TO_FILE: Record<DType, string> = {
  float64: 'F64', float32: 'F32', float16: 'F16', bfloat16: 'BF16',
  int64: 'I64', int32: 'I32', uint8: 'U8', bool: 'BOOL',
};

/** One tensor's entry in a validated header. */
export interface SafetensorsEntry {
  name: string;
  /** The dtype string as written in the file ('F32', ...). */
  fileDtype: string;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: SafetensorsEntry[];
  metadata: Record<string, string> | null;
}

/** Reads and validates the header: dtypes, shapes, and offsets (in range, sized, non-overlapping). */
export function readSafetensorsHeader(src: ByteSource): SafetensorsHeader {
  const fail = (m: string): never => { throw new TorchError(OP, `${src.name}: ${m}`); };
  if (src.size < 8) fail(`the file is ${src.size} bytes, too short for the 8-byte header length; it is truncated or not a safetensors file`);
  const lenBytes = readRange(OP, src, 0, 8, 'the header length');
  const headerLen64 = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLen64 > BigInt(src.size - 8))
    fail(`the header length ${headerLen64} is larger than the rest of the file (${src.size - 8} bytes); the file is truncated or not a safetensors file`);
  const headerLen = Number(headerLen64);
  if (headerLen > MAX_HEADER_BYTES) fail(`the header length ${headerLen} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  if (headerLen < 2) fail(`the header length ${headerLen} is too small to hold a JSON object`);
  const headerBytes = readRange(OP, src, 8, headerLen, 'the JSON header');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    return fail('the header is not valid UTF-8; this is not a safetensors file');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return fail(`the header is not valid JSON (${(e as Error).message}); this is not a safetensors file`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail('the header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataSize = src.size - dataStart;
  const entries: SafetensorsEntry[] = [];
  let metadata: Record<string, string> | null = null;
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('__metadata__ must be an object of strings');
      metadata = Object.create(null) as Record<string, string>;
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__["${k}"] must be a string, got ${JSON.stringify(v)}`);
        setOwn(metadata, k, v as string);
      }
      continue;
    }
    const where = `tensor "${name}"`;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(`${where}: the entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== 'string') fail(`${where}: missing or non-string "dtype"`);
    const type = Object.hasOwn(FROM_FILE, dtype as string) ? FROM_FILE[dtype as string] : undefined;
    if (type === undefined)
      fail(`${where}: unknown or unsupported dtype ${JSON.stringify(dtype)} (torchlet reads ${Object.keys(FROM_FILE).join(', ')})`);
    if (!Array.isArray(shape) || !shape.every((s) => Number.isSafeInteger(s) && s >= 0))
      fail(`${where}: "shape" must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0))
      fail(`${where}: "data_offsets" must be [begin, end] with non-negative integers, got ${JSON.stringify(offsets)}`);
    const [b, e] = offsets as [number, number];
    if (b > e) fail(`${where}: data_offsets [${b}, ${e}] has begin after end`);
    if (e > dataSize) fail(`${where}: data_offsets [${b}, ${e}] run past the end of the data (${dataSize} bytes); the file is truncated or corrupt`);
    let numel = 1;
    for (const s of shape as number[]) numel *= s;
    const expected = numel * FILE_ITEMSIZE[type!];
    if (expected !== e - b)
      fail(`${where}: shape [${(shape as number[]).join(', ')}] of ${dtype} needs ${expected} bytes but data_offsets [${b}, ${e}] span ${e - b}`);
    entries.push({ name, fileDtype: dtype as string, shape: (shape as number[]).slice(), begin: dataStart + b, end: dataStart + e });
  }
  const sorted = entries.filter((en) => en.end > en.begin).sort((x, y) => x.begin - y.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end)
      fail(`tensors "${sorted[i - 1].name}" and "${sorted[i].name}" have overlapping data_offsets`);
  }
  return { entries, metadata };
}

/** Reads one validated entry's tensor. */
export function readSafetensorsEntry(src: ByteSource, entry: SafetensorsEntry): TensorRecord {
  const bytes = readRange(OP, src, entry.begin, entry.end - entry.begin, `tensor "${entry.name}"`);
  const numel = entry.shape.reduce((a, s) => a * s, 1);
  const { dtype, data } = decodeElements(`${OP}: ${src.name}: tensor "${entry.name}"`, FROM_FILE[entry.fileDtype], bytes, numel);
  return { dtype, shape: entry.shape.slice(), data };
}

export interface SafetensorsContents {
  tensors: Record<string, TensorRecord>;
  metadata: Record<string, string> | null;
}

/** Reads every tensor of a safetensors source, in header order. */
export function readSafetensors(src: ByteSource): SafetensorsContents {
  const { entries, metadata } = readSafetensorsHeader(src);
  const tensors: Record<string, TensorRecord> = {};
  for (const e of entries) setOwn(tensors, e.name, readSafetensorsEntry(src, e));
  return { tensors, metadata };
}

export function readSafetensorsFile(path: string): SafetensorsContents {
  const src = fileSource(path, OP);
  try {
    return readSafetensors(src);
  } finally {
    src.close();
  }
}

export function parseSafetensors(bytes: Uint8Array, name = '<buffer>'): SafetensorsContents {
  return readSafetensors(bufferSource(bytes, name, OP));
}

type Named = [string, TensorRecord];
/** Tensors by name: an object, a Map, or [name, record] pairs. */
export type TensorCollection = Record<string, TensorRecord> | Map<string, TensorRecord> | Named[];

function prepare(tensors: TensorCollection, metadata?: Record<string, string> | null): { header: Uint8Array; order: Named[] } {
  const list: Named[] = Array.isArray(tensors) || tensors instanceof Map
    ? [...(tensors as Iterable<Named>)]
    : Object.entries(tensors as Record<string, TensorRecord>);
  const seen = new Set<string>();
  for (const [name, r] of list) {
    if (typeof name !== 'string') throw new TorchError(OP, `tensor names must be strings, got ${typeof name}`);
    if (name === '__metadata__') throw new TorchError(OP, 'a tensor cannot be named "__metadata__" (it is reserved by the format)');
    if (seen.has(name)) throw new TorchError(OP, `tensor "${name}" appears twice`);
    seen.add(name);
    checkRecord(OP, `tensor "${name}"`, r.dtype, r.shape, r.data);
  }
  // Lay the data out widest element type first, so every tensor is aligned to its item size
  // (the header is padded to a multiple of 8); the header keeps the caller's order.
  const order = list.map((x, i) => [x, i] as const)
    .sort((a, b) => ITEMSIZE[b[0][1].dtype] - ITEMSIZE[a[0][1].dtype] || a[1] - b[1])
    .map(([x]) => x);
  const offsets = new Map<string, [number, number]>();
  let at = 0;
  for (const [name, r] of order) {
    const n = r.data.length * ITEMSIZE[r.dtype];
    offsets.set(name, [at, at + n]);
    at += n;
  }
  const json: Record<string, unknown> = {};
  if (metadata) {
    const md: Record<string, string> = {};
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new TorchError(OP, `metadata values must be strings, got ${typeof v} for "${k}"`);
      setOwn(md, k, v);
    }
    setOwn(json, '__metadata__', md);
  }
  for (const [name, r] of list) setOwn(json, name, { dtype: TO_FILE[r.dtype], shape: r.shape.slice(), data_offsets: offsets.get(name) });
  let text = JSON.stringify(json);
  const enc = new TextEncoder();
  let header = enc.encode(text);
  const pad = (8 - (header.length % 8)) % 8;
  if (pad) header = enc.encode(text + ' '.repeat(pad));
  return { header, order };
}

function lengthPrefix(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

/** Serialises tensors (a name → record object, or [name, record] pairs) to safetensors bytes. */
export function serializeSafetensors(tensors: TensorCollection, metadata?: Record<string, string> | null): Uint8Array {
  const { header, order } = prepare(tensors, metadata);
  const parts = [lengthPrefix(header.length), header, ...order.map(([, r]) => encodeElements(OP, r.dtype, r.data))];
  const total = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/**
 * Writes a safetensors file, tensor by tensor, to a temporary name beside `path` and renames
 * it into place, so a failed write never leaves a half-written file under `path`.
 */
export function writeSafetensorsFile(path: string, tensors: TensorCollection, metadata?: Record<string, string> | null): void {
  const { header, order } = prepare(tensors, metadata);
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  let fd: number;
  try {
    fd = fs.openSync(tmp, 'w');
  } catch (e) {
    throw new TorchError('save', `cannot write ${path}: ${(e as Error).message}`);
  }
  try {
    const writeAll = (b: Uint8Array) => {
      let done = 0;
      while (done < b.length) done += fs.writeSync(fd, b, done, b.length - done);
    };
    writeAll(lengthPrefix(header.length));
    writeAll(header);
    for (const [, r] of order) writeAll(encodeElements(OP, r.dtype, r.data));
    fs.closeSync(fd);
    fs.renameSync(tmp, path);
  } catch (e) {
    try { fs.closeSync(fd); } catch { /* already closed */ }
    try { fs.unlinkSync(tmp); } catch { /* never created */ }
    throw e instanceof TorchError ? e : new TorchError('save', `cannot write ${path}: ${(e as Error).message}`);
  }
}
