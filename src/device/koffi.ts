/**
 * The koffi FFI module, shared by every device that calls native code (the cpu's OpenBLAS,
 * native kernels and malloc tuning; cuda's libraries). Loaded on first use, once: a device that
 * is never used never loads it, and a missing koffi is reported, not thrown.
 */
import { createRequire } from 'node:module';

let koffiMod: typeof import('koffi') | null = null;
let koffiError: string | null = null;

/** The koffi module, or null (with koffiLoadError() saying why) when it cannot be loaded. */
export function getKoffi(): typeof import('koffi') | null {
  if (koffiMod || koffiError) return koffiMod;
  try {
    const m = createRequire(import.meta.url)('koffi');
    koffiMod = (m.default ?? m) as typeof import('koffi');
  } catch (e) {
    koffiError = `the koffi FFI module could not be loaded (${(e as Error).message.split('\n')[0]})`;
  }
  return koffiMod;
}
/** Why getKoffi() returns null; null when koffi loads. */
export function koffiLoadError(): string | null {
  getKoffi();
  return koffiError;
}
