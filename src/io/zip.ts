/**
 * A minimal, defensive zip reader: the central directory (zip64 included) is parsed with
 * every offset and size bounds-checked, and entries are read stored or deflated
 * (torch.save writes them stored), with their CRC-32 verified.
 */
import * as zlib from 'node:zlib';
import { TorchError } from '../errors.js';
import type { ByteSource } from './source.js';
import { readRange } from './source.js';

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

function view(b: Uint8Array): DataView { return new DataView(b.buffer, b.byteOffset, b.byteLength); }

function u64(dv: DataView, at: number, fail: (m: string) => never, what: string): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} ${v} is out of range`);
  return Number(v);
}

/** True when the source starts like a zip archive ('PK\x03\x04', or 'PK\x05\x06' for an empty one). */
export function looksLikeZip(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b &&
    ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6));
}

/** Reads the central directory. `op` prefixes errors; every error names the file. */
export function readZipDirectory(src: ByteSource, op = 'zip'): ZipEntry[] {
  const fail = (m: string): never => { throw new TorchError(op, `${src.name}: ${m}`); };
  if (src.size < 22) fail(`the file is ${src.size} bytes, too short to be a zip archive`);
  // The end-of-central-directory record is the last 22 bytes plus a comment of up to 65535 bytes.
  const tailLen = Math.min(src.size, 22 + 65535);
  const tailStart = src.size - tailLen;
  const tail = readRange(op, src, tailStart, tailLen, 'the end of the zip archive');
  const tv = view(tail);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === SIG_EOCD && i + 22 + tv.getUint16(i + 20, true) <= tailLen) { eocd = i; break; }
  }
  if (eocd < 0) fail('no end-of-central-directory record: the zip archive is truncated or corrupt');
  const diskNo = tv.getUint16(eocd + 4, true), cdDisk = tv.getUint16(eocd + 6, true);
  let count = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);
  const eocdAbs = tailStart + eocd;
  if ((diskNo !== 0 && diskNo !== 0xffff) || (cdDisk !== 0 && cdDisk !== 0xffff)) fail('multi-disk zip archives are not supported');
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    // zip64: a locator just before the EOCD points at the zip64 EOCD record.
    if (eocdAbs < 20) fail('zip64 sizes are flagged but there is no zip64 locator');
    const loc = view(readRange(op, src, eocdAbs - 20, 20, 'the zip64 locator'));
    if (loc.getUint32(0, true) !== SIG_EOCD64_LOCATOR) fail('zip64 sizes are flagged but there is no zip64 locator');
    const rec64At = u64(loc, 8, fail, 'zip64 record offset');
    const rec = view(readRange(op, src, rec64At, 56, 'the zip64 end-of-central-directory record'));
    if (rec.getUint32(0, true) !== SIG_EOCD64) fail('bad zip64 end-of-central-directory signature');
    count = u64(rec, 32, fail, 'zip64 entry count');
    cdSize = u64(rec, 40, fail, 'zip64 central directory size');
    cdOffset = u64(rec, 48, fail, 'zip64 central directory offset');
  }
  if (cdOffset + cdSize > src.size || cdOffset + cdSize > eocdAbs)
    fail(`the central directory (offset ${cdOffset}, ${cdSize} bytes) lies outside the archive; it is truncated or corrupt`);
  if (count * 46 > cdSize) fail(`the central directory claims ${count} entries but is only ${cdSize} bytes`);
  const cd = readRange(op, src, cdOffset, cdSize, 'the central directory');
  const cv = view(cd);
  const entries: ZipEntry[] = [];
  const names = new Set<string>();
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 46 > cdSize) fail(`central directory entry ${i} runs past the end of the directory`);
    if (cv.getUint32(at, true) !== SIG_CENTRAL) fail(`central directory entry ${i} has a bad signature; the directory is corrupt`);
    const flags = cv.getUint16(at + 8, true);
    const method = cv.getUint16(at + 10, true);
    const crc = cv.getUint32(at + 16, true);
    let compressedSize = cv.getUint32(at + 20, true);
    let size = cv.getUint32(at + 24, true);
    const nameLen = cv.getUint16(at + 28, true), extraLen = cv.getUint16(at + 30, true), commentLen = cv.getUint16(at + 32, true);
    let localHeaderOffset = cv.getUint32(at + 42, true);
    const end = at + 46 + nameLen + extraLen + commentLen;
    if (end > cdSize) fail(`central directory entry ${i} runs past the end of the directory`);
    const nameBytes = cd.subarray(at + 46, at + 46 + nameLen);
    const name = Buffer.from(nameBytes).toString(flags & 0x800 ? 'utf8' : 'latin1');
    // zip64 extra field: the 64-bit values of whichever fields are saturated, in this order.
    let e = at + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = cv.getUint16(e, true), len = cv.getUint16(e + 2, true);
      if (e + 4 + len > extraEnd) fail(`entry "${name}": a malformed extra field`);
      if (id === 0x0001) {
        let p = e + 4;
        const take = (what: string): number => {
          if (p + 8 > e + 4 + len) fail(`entry "${name}": the zip64 extra field is too short for ${what}`);
          const v = u64(cv, p, fail, `entry "${name}": ${what}`);
          p += 8;
          return v;
        };
        if (size === 0xffffffff) size = take('the size');
        if (compressedSize === 0xffffffff) compressedSize = take('the compressed size');
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take('the header offset');
      }
      e += 4 + len;
    }
    if (names.has(name)) fail(`entry "${name}" appears twice in the central directory`);
    names.add(name);
    if (localHeaderOffset + 30 > cdOffset) fail(`entry "${name}": its local header offset ${localHeaderOffset} is outside the archive's data`);
    entries.push({ name, method, flags, crc32: crc, compressedSize, size, localHeaderOffset });
    at = end;
  }
  return entries;
}

let crcTable: Int32Array | null = null;
function crc32js(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = -1;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
/** CRC-32 (the zip polynomial); node:zlib's native one where this Node has it. */
export function crc32(data: Uint8Array): number {
  const native = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;
  return native ? native(data) >>> 0 : crc32js(data);
}

/** Reads and, if needed, inflates one entry, checking its local header, sizes and CRC. */
export function readZipEntry(src: ByteSource, entry: ZipEntry, op = 'zip'): Uint8Array {
  const fail = (m: string): never => { throw new TorchError(op, `${src.name}: entry "${entry.name}": ${m}`); };
  if (entry.flags & 1) fail('encrypted zip entries are not supported');
  const lh = view(readRange(op, src, entry.localHeaderOffset, 30, `the local header of "${entry.name}"`));
  if (lh.getUint32(0, true) !== SIG_LOCAL) fail('bad local header signature; the archive is corrupt');
  const dataAt = entry.localHeaderOffset + 30 + lh.getUint16(26, true) + lh.getUint16(28, true);
  if (dataAt + entry.compressedSize > src.size)
    fail(`its data (offset ${dataAt}, ${entry.compressedSize} bytes) runs past the end of the ${src.size}-byte file; the archive is truncated`);
  const raw = readRange(op, src, dataAt, entry.compressedSize, `the data of "${entry.name}"`);
  let out: Uint8Array;
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.size) fail(`a stored entry with compressed size ${entry.compressedSize} != size ${entry.size}`);
    out = raw;
  } else if (entry.method === 8) {
    try {
      const inflated = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(entry.size, 1) });
      out = new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength);
    } catch (e) {
      return fail(`cannot inflate: ${(e as Error).message}`);
    }
    if (out.length !== entry.size) fail(`inflated to ${out.length} bytes, but the directory says ${entry.size}`);
  } else {
    return fail(`unsupported compression method ${entry.method} (only stored and deflate are read)`);
  }
  if (crc32(out) !== entry.crc32) fail('CRC-32 mismatch: the data is corrupt');
  return out;
}
