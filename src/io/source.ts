/**
 * Random-access byte sources and the record type the file formats produce.
 *
 * Readers take a ByteSource rather than a whole Buffer so that a multi-gigabyte checkpoint
 * is read one tensor at a time (Node cannot read a file over 2 GiB into one Buffer).
 */
import * as fs from 'node:fs';
import { TorchError } from '../errors.js';
import type { DType, HostArray } from '../dtype.js';

/** A contiguous tensor in the host representation of dtype.ts (int64 in Float64Array, ...). */
export interface TensorRecord {
  dtype: DType;
  shape: number[];
  data: HostArray;
}

/** Reads byte ranges of a file or buffer; every read is bounds-checked. */
export interface ByteSource {
  /** What to call the source in error messages (usually the file path). */
  readonly name: string;
  readonly size: number;
  /** The bytes [offset, offset + length); throws a TorchError when out of range. */
  read(offset: number, length: number): Uint8Array;
  close(): void;
}

function checkRange(op: string, name: string, size: number, offset: number, length: number, what: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size)
    throw new TorchError(op, `${name}: ${what} (bytes ${offset}..${offset + length}) lies outside the file of ${size} bytes; the file is truncated or corrupt`);
}

/** A source over bytes already in memory. Reads are views, not copies. */
export function bufferSource(bytes: Uint8Array, name = '<buffer>', op = 'load'): ByteSource {
  return {
    name,
    size: bytes.byteLength,
    read(offset, length) {
      checkRange(op, name, bytes.byteLength, offset, length, 'a read');
      return bytes.subarray(offset, offset + length);
    },
    close() { /* nothing to release */ },
  };
}

/** A source over an open file; reads copy into fresh buffers. */
export function fileSource(path: string, op = 'load'): ByteSource {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    throw new TorchError(op, `cannot open ${path}: ${(e as Error).message}`);
  }
  let size: number;
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new TorchError(op, `${path} is not a regular file`);
    size = st.size;
  } catch (e) {
    fs.closeSync(fd);
    throw e instanceof TorchError ? e : new TorchError(op, `cannot stat ${path}: ${(e as Error).message}`);
  }
  let open = true;
  return {
    name: path,
    size,
    read(offset, length) {
      checkRange(op, path, size, offset, length, 'a read');
      if (!open) throw new TorchError(op, `${path}: read after close`);
      // Allocate a fresh ArrayBuffer (never the shared Buffer pool) so typed views are aligned.
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const n = fs.readSync(fd, out, done, Math.min(length - done, 1 << 30), offset + done);
        if (n === 0) throw new TorchError(op, `${path}: unexpected end of file at byte ${offset + done} (the file shrank while being read?)`);
        done += n;
      }
      return out;
    },
    close() {
      if (open) { open = false; fs.closeSync(fd); }
    },
  };
}

/** Reads `length` bytes at `offset`, with a message naming what was being read when out of range. */
export function readRange(op: string, src: ByteSource, offset: number, length: number, what: string): Uint8Array {
  checkRange(op, src.name, src.size, offset, length, what);
  return src.read(offset, length);
}

/** Copies bytes into a fresh, 8-byte aligned ArrayBuffer so any TypedArray can view them. */
export function alignedCopy(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out;
}

/** True when this machine is little-endian (every platform Node supports today is). */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
