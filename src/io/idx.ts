/**
 * IDX files (MNIST and Fashion-MNIST): two zero bytes, an element type byte, a dimension
 * count byte, the dimensions as big-endian uint32, then the elements big-endian.
 * Gzipped files (1f 8b) are inflated first.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { TorchError } from '../errors.js';
import type { TensorRecord } from './source.js';
import { decodeElements, type FileElementType } from './elements.js';

const OP = 'idx';
/** No real IDX file comes close; a limit keeps a hostile gzip from inflating without bound. */
export const MAX_IDX_BYTES = 2 ** 31 - 1;

const IDX_TYPES: Record<number, [FileElementType, string]> = {
  0x08: ['u8', 'unsigned byte'],
  0x09: ['i8', 'signed byte'],
  0x0b: ['i16', 'short'],
  0x0c: ['i32', 'int'],
  0x0d: ['f32', 'float'],
  0x0e: ['f64', 'double'],
};
const IDX_ITEMSIZE: Record<number, number> = { 0x08: 1, 0x09: 1, 0x0b: 2, 0x0c: 4, 0x0d: 4, 0x0e: 8 };

/** True for gzip's magic bytes. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Inflates gzip data, with errors that name the file. */
export function gunzip(bytes: Uint8Array, name: string): Uint8Array {
  try {
    const b = zlib.gunzipSync(bytes, { maxOutputLength: MAX_IDX_BYTES });
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new TorchError(OP, `${name}: cannot decompress the gzip data (${(e as Error).message}); the file is truncated or corrupt`);
  }
}

/**
 * Parses IDX bytes (gzipped or not). `expectMagic`, when given, is the 4-byte magic number
 * the file must have (0x00000803 for images, 0x00000801 for labels).
 */
export function parseIdx(bytes: Uint8Array, name = '<buffer>', expectMagic?: number): TensorRecord {
  const fail = (m: string): never => { throw new TorchError(OP, `${name}: ${m}`); };
  if (isGzip(bytes)) bytes = gunzip(bytes, name);
  if (bytes.length < 4) fail(`${bytes.length} bytes is too short for an IDX header; the file is truncated`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = dv.getUint32(0, false);
  if (bytes[0] !== 0 || bytes[1] !== 0) fail(`bad magic number 0x${magic.toString(16).padStart(8, '0')}: not an IDX file`);
  const typeCode = bytes[2], ndim = bytes[3];
  const type = IDX_TYPES[typeCode];
  if (!type) fail(`unknown IDX element type 0x${typeCode.toString(16)}`);
  if (expectMagic !== undefined && magic !== expectMagic)
    fail(`magic number 0x${magic.toString(16).padStart(8, '0')}, expected 0x${expectMagic.toString(16).padStart(8, '0')} (${describeMagic(expectMagic)})`);
  const headerLen = 4 + 4 * ndim;
  if (bytes.length < headerLen) fail(`the header declares ${ndim} dimensions but the file ends at byte ${bytes.length}; it is truncated`);
  const shape: number[] = [];
  let numel = 1;
  for (let i = 0; i < ndim; i++) {
    const d = dv.getUint32(4 + 4 * i, false);
    shape.push(d);
    numel *= d;
  }
  const itemsize = IDX_ITEMSIZE[typeCode];
  const want = numel * itemsize;
  const have = bytes.length - headerLen;
  if (want !== have)
    fail(`dimensions [${shape.join(', ')}] of ${type![1]} need ${want} bytes of data but the file has ${have}; it is ${have < want ? 'truncated' : 'corrupt'}`);
  const body = bytes.subarray(headerLen);
  const { dtype, data } = decodeElements(`${OP}: ${name}`, type![0], body, numel, true);
  return { dtype, shape, data };
}

function describeMagic(m: number): string {
  const nd = m & 0xff;
  return nd === 3 ? 'an images file' : nd === 1 ? 'a labels file' : `${nd} dimensions`;
}

/** Reads an IDX file (gzipped or not). */
export function readIdxFile(path: string, expectMagic?: number): TensorRecord {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(path);
  } catch (e) {
    throw new TorchError(OP, `cannot read ${path}: ${(e as Error).message}`);
  }
  return parseIdx(bytes, path, expectMagic);
}

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;
