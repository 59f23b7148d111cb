/**
 * Finding and loading the NVIDIA shared libraries the cuda backend uses. Nothing here runs at
 * import: the search is a plain function of an environment (so tests can point it at a temp
 * dir), and loading happens the first time the cuda device is probed.
 *
 * Libraries:
 * - libcuda.so.1 (the driver API; comes with the NVIDIA driver, required)
 * - libnvrtc.so.13 / .12 (runtime compiler for the kernels, required; libnvrtc-builtins preloaded)
 * - libcublas.so.13 / .12 (+ libcublasLt, optional: matmul falls back to a torchlet kernel)
 * - libcudnn.so.9 / .8 (optional: conv2d fast path)
 *
 * Search order for each: TORCHLET_CUDA_LIB_DIRS, LD_LIBRARY_PATH, $CUDA_HOME / $CUDA_PATH
 * (lib64, targets/x86_64-linux/lib), /usr/local/cuda, common driver dirs, Python installations'
 * site-packages/nvidia/<pkg>/lib (pip wheels such as nvidia-cuda-nvrtc, nvidia-cublas, the CUDA 13
 * nvidia/cu13/lib layout, and $CONDA_PREFIX/lib), then the plain soname (the system loader path).
 * Candidates in directories are checked for existence before anything is dlopen'ed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { getKoffi, koffiLoadError } from '../koffi.js';
import type { LibraryHandle } from 'koffi';

export type Env = Record<string, string | undefined>;

export interface SearchOptions {
  env?: Env;
  /** Home directory (for ~/.local and friends); defaults to os.homedir(). */
  home?: string;
  /** Existence check (injectable for tests). */
  exists?: (p: string) => boolean;
  /** Directory listing (injectable for tests); returns [] when missing. */
  readdir?: (p: string) => string[];
  /** Skip the built-in system/python directories (tests use this to look only at env-provided dirs). */
  envOnly?: boolean;
}

export interface SearchDir {
  dir: string;
  /** Where the directory came from, for messages: 'LD_LIBRARY_PATH', 'CUDA_HOME', 'python', ... */
  source: string;
}

export interface LibSpec {
  /** Short id: 'cuda', 'nvrtc', 'cublas', 'cublasLt', 'cudnn'. */
  id: string;
  /** How messages name it. */
  label: string;
  /** File names in preference order (newest first). */
  names: string[];
}

export const LIBS = {
  cuda: { id: 'cuda', label: 'libcuda.so.1 (the NVIDIA driver)', names: ['libcuda.so.1', 'libcuda.so'] },
  nvrtc: { id: 'nvrtc', label: 'NVRTC (libnvrtc.so.13 or libnvrtc.so.12)', names: ['libnvrtc.so.13', 'libnvrtc.so.12', 'libnvrtc.so.11.2', 'libnvrtc.so'] },
  cublas: { id: 'cublas', label: 'cuBLAS (libcublas.so.13 or libcublas.so.12)', names: ['libcublas.so.13', 'libcublas.so.12', 'libcublas.so.11', 'libcublas.so'] },
  cublasLt: { id: 'cublasLt', label: 'cuBLASLt', names: ['libcublasLt.so.13', 'libcublasLt.so.12', 'libcublasLt.so.11', 'libcublasLt.so'] },
  cudnn: { id: 'cudnn', label: 'cuDNN (libcudnn.so.9 or libcudnn.so.8)', names: ['libcudnn.so.9', 'libcudnn.so.8', 'libcudnn.so'] },
} satisfies Record<string, LibSpec>;

const defaultExists = (p: string): boolean => {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
};
const defaultReaddir = (p: string): string[] => {
  try {
    return fs.readdirSync(p);
  } catch {
    return [];
  }
};
const isDir = (p: string): boolean => {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/** Expands '*' wildcards in path segments (no recursion beyond what the pattern names). */
function expandGlob(pattern: string, readdir: (p: string) => string[]): string[] {
  const parts = pattern.split('/');
  let acc: string[] = [parts[0] === '' ? '/' : parts[0]];
  for (let i = 1; i < parts.length; i++) {
    const seg = parts[i];
    if (seg === '') continue;
    const next: string[] = [];
    if (seg.includes('*')) {
      const re = new RegExp('^' + seg.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
      for (const base of acc) for (const name of readdir(base).sort().reverse()) if (re.test(name)) next.push(path.join(base, name));
    } else for (const base of acc) next.push(path.join(base, seg));
    acc = next;
    if (acc.length === 0) break;
  }
  return acc;
}

/** site-packages / dist-packages folders of Python installations that plausibly exist here. */
export function pythonSitePackages(opts: SearchOptions = {}): string[] {
  const env = opts.env ?? process.env;
  const home = opts.home ?? safeHome();
  const readdir = opts.readdir ?? defaultReaddir;
  const prefixes: string[] = [];
  const addPrefix = (p: string | undefined) => { if (p) prefixes.push(p); };
  addPrefix(env.VIRTUAL_ENV);
  addPrefix(env.CONDA_PREFIX);
  // python3 executables on PATH: their prefix (and the resolved prefix, for venvs and symlinks)
  for (const dir of (env.PATH ?? '').split(':')) {
    if (!dir) continue;
    for (const exe of ['python3', 'python']) {
      const p = path.join(dir, exe);
      if (!defaultExists(p)) continue;
      addPrefix(path.dirname(dir));
      try {
        addPrefix(path.dirname(path.dirname(fs.realpathSync(p))));
      } catch { /* dangling link */ }
    }
  }
  if (home) {
    addPrefix(path.join(home, '.local'));
    for (const d of ['miniconda3', 'anaconda3', 'miniforge3', 'mambaforge', '.conda']) addPrefix(path.join(home, d));
    for (const v of expandGlob(path.join(home, '.pyenv/versions/*'), readdir)) addPrefix(v);
  }
  for (const p of ['/usr', '/usr/local', '/opt/conda', '/opt/venv', '/opt/python']) addPrefix(p);
  const out: string[] = [];
  for (const pre of [...new Set(prefixes)]) {
    for (const lib of ['lib', 'lib64']) {
      for (const py of expandGlob(path.join(pre, lib, 'python3*'), readdir)) {
        for (const kind of ['site-packages', 'dist-packages']) {
          const sp = path.join(py, kind);
          if (isDir(sp)) out.push(sp);
        }
      }
    }
  }
  for (const entry of (env.PYTHONPATH ?? '').split(':')) if (entry && isDir(path.join(entry, 'nvidia'))) out.push(entry);
  return [...new Set(out)];
}

function safeHome(): string {
  try {
    return os.homedir();
  } catch {
    return '';
  }
}

/** Every directory searched, in order (duplicates removed, stub dirs skipped). */
export function searchDirs(opts: SearchOptions = {}): SearchDir[] {
  const env = opts.env ?? process.env;
  const readdir = opts.readdir ?? defaultReaddir;
  const out: SearchDir[] = [];
  // directories the user named are always listed; built-in guesses only when they exist
  const add = (dir: string | undefined, source: string, mustExist = false) => {
    if (!dir) return;
    const d = path.resolve(dir);
    if (/(^|\/)stubs\/?$/.test(d)) return; // libcuda stubs only satisfy linkers
    if (mustExist && !isDir(d)) return;
    out.push({ dir: d, source });
  };
  for (const d of (env.TORCHLET_CUDA_LIB_DIRS ?? '').split(':')) add(d, 'TORCHLET_CUDA_LIB_DIRS');
  for (const d of (env.LD_LIBRARY_PATH ?? '').split(':')) add(d, 'LD_LIBRARY_PATH');
  for (const v of ['CUDA_HOME', 'CUDA_PATH', 'CUDA_ROOT']) {
    const root = env[v];
    if (!root) continue;
    add(path.join(root, 'lib64'), v);
    add(path.join(root, 'lib'), v);
    add(path.join(root, 'targets/x86_64-linux/lib'), v);
  }
  if (env.CONDA_PREFIX) add(path.join(env.CONDA_PREFIX, 'lib'), 'CONDA_PREFIX');
  if (!opts.envOnly) {
    add('/usr/local/cuda/lib64', 'system', true);
    add('/usr/local/cuda/targets/x86_64-linux/lib', 'system', true);
    for (const d of expandGlob('/usr/local/cuda-*/lib64', readdir)) add(d, 'system', true);
    for (const d of ['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/nvidia/lib64', '/usr/local/nvidia/lib', '/usr/lib/wsl/lib', '/usr/lib/x86_64-linux-gnu/nvidia/current'])
      add(d, 'system', true);
    for (const sp of pythonSitePackages(opts)) {
      const nv = path.join(sp, 'nvidia');
      for (const pkg of readdir(nv).sort()) add(path.join(nv, pkg, 'lib'), 'python', true);
    }
  }
  const seen = new Set<string>();
  return out.filter((d) => (seen.has(d.dir) ? false : (seen.add(d.dir), true)));
}

export interface Candidate {
  /** Absolute path, or a bare soname left to the system loader. */
  path: string;
  name: string;
  source: string;
}

/** Existing files for a library, directory order first, then bare sonames for the system loader. */
export function findCandidates(spec: LibSpec, opts: SearchOptions = {}): Candidate[] {
  const exists = opts.exists ?? defaultExists;
  const out: Candidate[] = [];
  for (const d of searchDirs(opts)) {
    for (const name of spec.names) {
      const p = path.join(d.dir, name);
      if (exists(p)) out.push({ path: p, name, source: d.source });
    }
  }
  if (!opts.envOnly) for (const name of spec.names) out.push({ path: name, name, source: 'system loader' });
  return out;
}

/** A short, one-line description of where we looked. */
export function describeSearch(opts: SearchOptions = {}, max = 10): string {
  const dirs = searchDirs(opts);
  const byPath = dirs.map((d) => d.dir);
  const shown = byPath.slice(0, max).join(', ');
  const more = byPath.length > max ? ` and ${byPath.length - max} more` : '';
  return `${shown || '(no directories)'}${more}${opts.envOnly ? '' : ', and the system library path'}`;
}

// ---------------- loading ----------------

export { getKoffi, koffiLoadError };

export interface Loaded {
  lib: LibraryHandle;
  path: string;
  name: string;
}
export interface LoadResult {
  loaded: Loaded | null;
  /** 'not found' when no candidate existed; else the dlopen errors. */
  errors: string[];
  found: boolean;
}

/** Libraries kept alive for the process (koffi unloads a library once unreferenced). */
const keepAlive: LibraryHandle[] = [];

/** The major version in a soname (libnvrtc.so.12 -> 12), or null. */
export function sonameMajor(name: string): number | null {
  const m = /\.so\.(\d+)/.exec(name);
  return m ? Number(m[1]) : null;
}

/**
 * Tries candidates in order; `accept` may reject a loaded library (e.g. too new for the driver).
 * `preload(dir)` runs before each candidate that lives in a directory (dependency preloading).
 */
export function loadFirst(
  spec: LibSpec,
  opts: SearchOptions,
  hooks: { order?: (c: Candidate[]) => Candidate[]; preload?: (dir: string, c: Candidate) => void; accept?: (l: Loaded) => string | null } = {},
): LoadResult {
  const koffi = getKoffi();
  if (!koffi) return { loaded: null, errors: [koffiLoadError() ?? 'koffi unavailable'], found: false };
  let cands = findCandidates(spec, opts);
  if (hooks.order) cands = hooks.order(cands);
  const errors: string[] = [];
  let found = false;
  const tried = new Set<string>();
  for (const c of cands) {
    if (tried.has(c.path)) continue;
    tried.add(c.path);
    const inDir = c.path.includes('/');
    if (inDir) found = true;
    try {
      if (inDir && hooks.preload) hooks.preload(path.dirname(c.path), c);
      const lib = koffi.load(c.path);
      const l: Loaded = { lib, path: c.path, name: c.name };
      const rej = hooks.accept ? hooks.accept(l) : null;
      if (rej) {
        errors.push(`${c.path}: ${rej}`);
        continue;
      }
      found = true;
      keepAlive.push(lib);
      return { loaded: l, errors, found };
    } catch (e) {
      const msg = (e as Error).message.replace(/^Failed to load shared library:\s*/, '');
      // a bare soname that the system loader does not know is just "not found"
      if (!inDir && /No such file|cannot open shared object/.test(msg)) continue;
      found = true;
      errors.push(`${c.path}: ${msg}`);
    }
  }
  return { loaded: null, errors, found };
}

/** Loads every file in `dir` whose name starts with one of `prefixes` (dependencies of a library there). */
export function preloadSiblings(dir: string, prefixes: string[], readdir: (p: string) => string[] = defaultReaddir): string[] {
  const koffi = getKoffi();
  if (!koffi) return [];
  const done: string[] = [];
  const files = readdir(dir);
  for (const pre of prefixes) {
    for (const f of files.filter((n) => n.startsWith(pre) && /\.so(\.|$)/.test(n)).sort().reverse()) {
      try {
        keepAlive.push(koffi.load(path.join(dir, f), { global: true }));
        done.push(f);
        break; // one per prefix (the newest name)
      } catch { /* a dependency that fails is reported when the main library fails */ }
    }
  }
  return done;
}
