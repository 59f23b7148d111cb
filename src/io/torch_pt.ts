/**
 * PyTorch's torch.save files (the zip format PyTorch >= 1.6 writes): `<archive>/data.pkl`
 * holds a pickle whose tensors point, through persistent ids, at raw little-endian storages
 * in `<archive>/data/<key>`. The pickle is run by the restricted interpreter with an
 * allowlist of the globals torch.save emits for tensors and state dicts; nothing from the
 * file is ever executed.
 */
import { TorchError } from '../errors.js';
import { ITEMSIZE, allocHost, type HostArray } from '../dtype.js';
import { type ByteSource, type TensorRecord, bufferSource, fileSource, readRange } from './source.js';
import { type FileElementType, FILE_ITEMSIZE, LOADS_AS, decodeElements } from './elements.js';
import { type ZipEntry, looksLikeZip, readZipDirectory, readZipEntry } from './zip.js';
import { type GlobalHandler, type PickleContext, PyDict, PyGlobal, PySet, PyTuple, describe, unpickle } from './pickle.js';
import { setOwn } from './objects.js';

const OP = 'load';

/** torch.<Name>Storage → the element type of its bytes. */
const STORAGE_TYPES: Record<string, FileElementType> = {
  FloatStorage: 'f32', DoubleStorage: 'f64', HalfStorage: 'f16', BFloat16Storage: 'bf16',
  IntStorage: 'i32', LongStorage: 'i64', ShortStorage: 'i16', CharStorage: 'i8',
  ByteStorage: 'u8', BoolStorage: 'bool',
};

/** torch dtype objects (pickled by name) → torchlet's dtype string, or PyTorch's name if torchlet lacks it. */
const TORCH_DTYPE_NAMES: Record<string, string> = {
  float32: 'float32', float: 'float32', float64: 'float64', double: 'float64',
  float16: 'float16', half: 'float16', bfloat16: 'bfloat16',
  int32: 'int32', int: 'int32', int64: 'int64', long: 'int64', uint8: 'uint8', bool: 'bool',
  int16: 'int16', short: 'int16', int8: 'int8',
};

/** What a loaded tensor was in the file, passed to the caller's tensor constructor. */
export interface TensorInfo {
  /** Where it sits in the loaded object, e.g. "0.weight" or "state.0.exp_avg". */
  path: string;
  requiresGrad: boolean;
  /** Saved as an nn.Parameter. */
  isParameter: boolean;
}

export interface ReadTorchOptions<T> {
  /** Makes the caller's tensor from a record; by default the record itself is kept. */
  tensor?: (record: TensorRecord, info: TensorInfo) => T;
}

/** A storage referenced by a persistent id (materialised on first use). */
class StorageRef {
  constructor(readonly key: string, readonly type: FileElementType, readonly numel: number) {}
}
/** A tensor rebuilt by _rebuild_tensor_v2 (already a contiguous copy). */
class PickledTensor {
  requiresGrad = false;
  isParameter = false;
  constructor(readonly record: TensorRecord) {}
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

/**
 * True for the legacy (pre-1.6) torch.save format: a pickle that starts with PyTorch's magic
 * number 0x1950a86a20f9469cfc6c (PROTO, optional FRAME, then LONG1 of 10 bytes).
 */
export function isLegacyTorch(head: Uint8Array): boolean {
  const magic = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
  if (head.length < 2 || head[0] !== 0x80 || head[1] > 5) return false;
  const at = head[2] === 0x95 ? 11 : 2;
  return head.length >= at + magic.length && magic.every((b, i) => head[at + i] === b);
}

/** Reads a torch.save zip archive from a source. */
export function readTorch<T = TensorRecord>(src: ByteSource, opts: ReadTorchOptions<T> = {}): unknown {
  const fail = (m: string): never => { throw new TorchError(OP, `${src.name}: ${m}`); };
  const head = readRange(OP, src, 0, Math.min(src.size, 32), 'the file header');
  if (!looksLikeZip(head)) {
    if (isLegacyTorch(head))
      fail('this is a PyTorch file in the legacy (pre-1.6, non-zip) torch.save format, which torchlet does not read; re-save it with a newer PyTorch (torch.save(torch.load(f), f2)) or as safetensors');
    fail('not a zip archive, so not a torch.save file');
  }
  const entries = readZipDirectory(src, OP);
  const byName = new Map<string, ZipEntry>(entries.map((e) => [e.name, e]));
  const pickles = entries.filter((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (pickles.length === 0) {
    if (entries.some((e) => /^[^/]+\/constants\.pkl$/.test(e.name) || /^[^/]+\/code\//.test(e.name)))
      fail('this is a TorchScript archive (torch.jit.save), not a torch.save file; in PyTorch, save model.state_dict() with torch.save instead');
    fail('no <archive>/data.pkl entry: this zip file is not a torch.save file');
  }
  if (pickles.length > 1) fail(`more than one data.pkl (${pickles.map((p) => p.name).join(', ')})`);
  const prefix = pickles[0].name.slice(0, -'data.pkl'.length);
  const orderEntry = byName.get(`${prefix}byteorder`);
  let bigEndian = false;
  if (orderEntry) {
    const order = Buffer.from(readZipEntry(src, orderEntry, OP)).toString('latin1').trim();
    if (order !== 'little' && order !== 'big') fail(`unknown byteorder "${order}"`);
    bigEndian = order === 'big';
  }
  let storageBytes = 0;
  for (const e of entries) if (e.name.startsWith(`${prefix}data/`)) storageBytes += e.size;
  // Views may legitimately overlap or repeat a storage, but a file must not be able to make us
  // allocate without bound (stride-0 views of one element, say): cap what tensors may add up to.
  const budget = 8 * storageBytes + 256 * 1024 * 1024;
  let spent = 0;

  const storages = new Map<string, HostArray>();
  const storageData = (ref: StorageRef, ctx: PickleContext): HostArray => {
    let d = storages.get(ref.key);
    if (d) return d;
    const entry = byName.get(`${prefix}data/${ref.key}`);
    if (!entry) return ctx.fail(`storage "${ref.key}" is referenced but the archive has no ${prefix}data/${ref.key} entry`);
    const want = ref.numel * FILE_ITEMSIZE[ref.type];
    if (entry.size !== want)
      ctx.fail(`storage "${ref.key}" should hold ${ref.numel} elements of ${FILE_ITEMSIZE[ref.type]} bytes (${want} bytes) but its entry has ${entry.size} bytes`);
    const bytes = readZipEntry(src, entry, OP);
    d = decodeElements(`${OP}: ${src.name}: storage "${ref.key}"`, ref.type, bytes, ref.numel, bigEndian).data;
    storages.set(ref.key, d);
    return d;
  };

  const rebuildTensor = (args: unknown[], ctx: PickleContext, what: string): PickledTensor => {
    if (args.length < 4) ctx.fail(`${what} needs at least 4 arguments, got ${args.length}`);
    const [storage, offset, sizeT, strideT] = args;
    if (!(storage instanceof StorageRef)) return ctx.fail(`${what}: expected a storage, got ${describe(storage)}`);
    if (!isInt(offset) || offset < 0) ctx.fail(`${what}: bad storage offset ${String(offset)}`);
    const size = sizeT instanceof PyTuple ? sizeT.items : Array.isArray(sizeT) ? sizeT : null;
    const stride = strideT instanceof PyTuple ? strideT.items : Array.isArray(strideT) ? strideT : null;
    if (!size || !size.every((s) => isInt(s) && s >= 0)) return ctx.fail(`${what}: bad size ${describe(sizeT)}`);
    if (!stride || stride.length !== size.length || !stride.every((s) => isInt(s) && s >= 0))
      return ctx.fail(`${what}: bad stride for size [${size.join(', ')}]`);
    const shape = size as number[], strides = stride as number[];
    const dtype = LOADS_AS[storage.type];
    let numel = 1;
    for (const s of shape) numel *= s;
    if (!Number.isSafeInteger(numel)) ctx.fail(`${what}: size [${shape.join(', ')}] is too large`);
    spent += numel * ITEMSIZE[dtype];
    if (spent > budget) ctx.fail(`the tensors would take more than ${budget} bytes, far more than the file's storages hold; refusing to load`);
    const out = allocHost(dtype, numel);
    if (numel === 0) return new PickledTensor({ dtype, shape: shape.slice(), data: out });
    let last = offset as number;
    for (let i = 0; i < shape.length; i++) last += (shape[i] - 1) * strides[i];
    if (last >= storage.numel)
      ctx.fail(`${what}: a tensor of size [${shape.join(', ')}], stride [${strides.join(', ')}] at offset ${offset} reaches element ${last} of a storage of ${storage.numel} elements`);
    const data = storageData(storage, ctx);
    copyStrided(data, out, offset as number, shape, strides);
    return new PickledTensor({ dtype, shape: shape.slice(), data: out });
  };

  const asTensor = (v: unknown, ctx: PickleContext, what: string): PickledTensor => {
    if (!(v instanceof PickledTensor)) return ctx.fail(`${what}: expected a tensor, got ${describe(v)}`);
    return v;
  };
  const globals: Record<string, GlobalHandler> = {
    ...containerGlobals(),
    'torch._utils._rebuild_tensor_v2': { call: (a, ctx) => rebuildTensor(a, ctx, '_rebuild_tensor_v2') },
    'torch._utils._rebuild_tensor': { call: (a, ctx) => rebuildTensor(a, ctx, '_rebuild_tensor') },
    'torch._utils._rebuild_parameter': { call: (a, ctx) => rebuildParameter(a, ctx) },
    'torch._utils._rebuild_parameter_with_state': { call: (a, ctx) => rebuildParameter(a, ctx) },
    'torch._tensor._rebuild_from_type_v2': {
      call: (a, ctx) => {
        const [func, type, args] = a;
        if (!(func instanceof PyGlobal) || !func.handler.call) return ctx.fail('_rebuild_from_type_v2: the rebuild function is not allowlisted');
        if (!(type instanceof PyGlobal) || (type.qualifiedName !== 'torch.Tensor' && type.qualifiedName !== 'torch.nn.parameter.Parameter'))
          return ctx.fail(`_rebuild_from_type_v2: tensor subclass ${describe(type)} is not supported`);
        if (!(args instanceof PyTuple)) return ctx.fail('_rebuild_from_type_v2: arguments are not a tuple');
        const t = asTensor(func.handler.call(args.items, ctx), ctx, '_rebuild_from_type_v2');
        if (type.qualifiedName === 'torch.nn.parameter.Parameter') t.isParameter = true;
        return t;
      },
    },
    'torch.Tensor': {},
    'torch.nn.parameter.Parameter': {},
  };
  for (const [name, type] of Object.entries(STORAGE_TYPES)) globals[`torch.${name}`] = { storageType: type } as GlobalHandler;

  function rebuildParameter(a: unknown[], ctx: PickleContext): PickledTensor {
    const t = asTensor(a[0], ctx, '_rebuild_parameter');
    t.isParameter = true;
    t.requiresGrad = a[1] === true;
    return t;
  }

  const pklEntry = pickles[0];
  const pkl = readZipEntry(src, pklEntry, OP);
  const root = unpickle(pkl, {
    name: `${src.name} (${pklEntry.name})`,
    op: OP,
    globals,
    explainGlobal: (module, name) => {
      const q = `${module}.${name}`;
      if (module === 'torch' && /Storage$/.test(name))
        return `the storage type ${q} holds a dtype torchlet does not support (it has ${Object.keys(STORAGE_TYPES).join(', ')})`;
      if (module === '__main__' || module.startsWith('torch.nn.modules'))
        return `refusing to load the global ${q}: this file holds a pickled Python object (torch.save(model)?), which cannot be loaded without running its code; in PyTorch, save model.state_dict() instead`;
      return undefined;
    },
    persistentLoad: (pid, ctx) => {
      const t = pid instanceof PyTuple ? pid.items : null;
      if (!t || t[0] !== 'storage' || t.length < 5) return ctx.fail(`unsupported persistent id ${describe(pid)} (expected ('storage', type, key, location, numel))`);
      const [, type, key, , numel] = t;
      const storageType = type instanceof PyGlobal ? (type.handler as { storageType?: FileElementType }).storageType : undefined;
      if (!storageType) return ctx.fail(`persistent id with storage type ${describe(type)}`);
      if (typeof key !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(key)) return ctx.fail(`bad storage key ${JSON.stringify(key)}`);
      if (!isInt(numel) || numel < 0) return ctx.fail(`bad storage size ${String(numel)}`);
      return new StorageRef(key, storageType, numel);
    },
    build: (obj, state, ctx) => {
      // OrderedDict state dicts carry `_metadata` (module versions) as an attribute.
      if (obj instanceof PyDict) { obj.attributes = state; return obj; }
      // A Parameter/tensor with a __dict__ state: the state is Python-side attributes only.
      if (obj instanceof PickledTensor) return obj;
      return ctx.fail(`BUILD on a ${describe(obj)} is not allowed`);
    },
  });
  return convert(root, opts.tensor ?? ((r: TensorRecord) => r as unknown as T), src.name);
}

/** Globals that build plain values (no tensors): OrderedDict, set, bytes, torch.Size, torch.device, dtypes. */
function containerGlobals(): Record<string, GlobalHandler> {
  const orderedDict = (args: unknown[], ctx: PickleContext): PyDict => {
    const d = new PyDict('collections.OrderedDict');
    if (args.length > 1) ctx.fail('OrderedDict takes at most one argument');
    if (args.length === 1 && args[0] !== null) {
      const items = args[0] instanceof PyTuple ? args[0].items : Array.isArray(args[0]) ? args[0] : ctx.fail(`OrderedDict(${describe(args[0])}) is not supported`);
      for (const kv of items) {
        const pair = kv instanceof PyTuple ? kv.items : Array.isArray(kv) ? kv : null;
        if (!pair || pair.length !== 2) ctx.fail('OrderedDict items must be (key, value) pairs');
        d.map.set(pair![0], pair![1]);
      }
    }
    return d;
  };
  const makeSet = (frozen: boolean) => (args: unknown[], ctx: PickleContext): PySet => {
    if (args.length === 0) return new PySet([], frozen);
    const a = args[0];
    const items = a instanceof PyTuple || a instanceof PySet ? a.items : Array.isArray(a) ? a : ctx.fail(`set(${describe(a)}) is not supported`);
    return new PySet([...items], frozen);
  };
  const globals: Record<string, GlobalHandler> = {
    'collections.OrderedDict': { call: orderedDict, newobj: orderedDict },
    'builtins.set': { call: makeSet(false) },
    'builtins.frozenset': { call: makeSet(true) },
    '__builtin__.set': { call: makeSet(false) },
    '__builtin__.frozenset': { call: makeSet(true) },
    'torch.device': {
      call: (a, ctx) => {
        if (typeof a[0] !== 'string') return ctx.fail('torch.device needs a string');
        return a.length > 1 && a[1] !== null ? `${a[0]}:${String(a[1])}` : a[0];
      },
    },
    'torch.Size': {
      call: (a, ctx) => {
        const items = a[0] instanceof PyTuple ? a[0].items : Array.isArray(a[0]) ? a[0] : ctx.fail('torch.Size needs a tuple');
        return new PyTuple([...items]);
      },
    },
    '_codecs.encode': {
      // How protocols 0-2 spell a bytes literal: _codecs.encode(text, 'latin1').
      call: (a, ctx) => {
        const [text, enc] = a;
        if (typeof text !== 'string') return ctx.fail('_codecs.encode needs a string');
        const e = typeof enc === 'string' ? enc.toLowerCase().replace('_', '-') : 'utf-8';
        if (e === 'latin1' || e === 'latin-1' || e === 'iso-8859-1') return new Uint8Array(Buffer.from(text, 'latin1'));
        if (e === 'utf-8' || e === 'utf8') return new Uint8Array(Buffer.from(text, 'utf8'));
        return ctx.fail(`_codecs.encode with encoding ${JSON.stringify(enc)} is not supported`);
      },
    },
  };
  for (const [name, dt] of Object.entries(TORCH_DTYPE_NAMES)) globals[`torch.${name}`] = { dtypeName: dt } as GlobalHandler;
  return globals;
}

/**
 * Unpickles plain data (dicts, lists, tuples, sets, numbers, strings, bytes, OrderedDicts)
 * without tensors, converted as torch files are: dicts to objects with string keys, tuples
 * and sets to arrays, integers beyond 2^53 to bigint. Any other global is an error.
 */
export function unpickleData(bytes: Uint8Array, name = '<pickle>'): unknown {
  const root = unpickle(bytes, {
    name, op: OP, globals: containerGlobals(),
    build: (obj, state, ctx) => {
      if (obj instanceof PyDict) { obj.attributes = state; return obj; }
      return ctx.fail(`BUILD on a ${describe(obj)} is not allowed`);
    },
  });
  return convert(root, (r) => r, name);
}

/** Copies a strided view of `src` into the contiguous `out` (row-major). */
function copyStrided(src: HostArray, out: HostArray, offset: number, shape: number[], strides: number[]): void {
  const nd = shape.length;
  // Fast path: already contiguous, a plain slice.
  let contiguous = true;
  for (let i = nd - 1, expect = 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== expect) { contiguous = false; break; }
    expect *= shape[i];
  }
  if (contiguous) {
    out.set(src.subarray(offset, offset + out.length) as never);
    return;
  }
  const idx = new Array<number>(nd).fill(0);
  const inner = shape[nd - 1], innerStride = strides[nd - 1];
  let base = offset;
  for (let o = 0; o < out.length; o += inner) {
    for (let j = 0, p = base; j < inner; j++, p += innerStride) out[o + j] = src[p];
    // advance the outer index (odometer)
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]++;
      base += strides[d];
      if (idx[d] < shape[d]) break;
      base -= strides[d] * shape[d];
      idx[d] = 0;
    }
  }
}

const MAX_DEPTH = 1000;

/** Turns pickled values into plain JS: dicts → objects (string keys), tuples/sets → arrays. */
function convert<T>(root: unknown, makeTensor: (r: TensorRecord, info: TensorInfo) => T, name: string): unknown {
  const done = new Map<object, unknown>();
  const go = (v: unknown, path: string, depth: number): unknown => {
    if (depth > MAX_DEPTH) throw new TorchError(OP, `${name}: objects nested more than ${MAX_DEPTH} deep`);
    if (v === null || typeof v !== 'object') return v;
    if (done.has(v)) return done.get(v);
    if (v instanceof PickledTensor) {
      const t = makeTensor(v.record, { path, requiresGrad: v.requiresGrad, isParameter: v.isParameter });
      done.set(v, t);
      return t;
    }
    if (v instanceof PyDict) {
      const o: Record<string, unknown> = {};
      done.set(v, o);
      for (const [k, x] of v.map) {
        const key = k instanceof PyTuple ? JSON.stringify(k.items) : k === null ? 'None' : typeof k === 'boolean' ? (k ? 'True' : 'False') : String(k);
        setOwn(o, key, go(x, path ? `${path}.${key}` : key, depth + 1));
      }
      return o;
    }
    if (Array.isArray(v) || v instanceof PyTuple || v instanceof PySet) {
      const items = Array.isArray(v) ? v : v.items;
      const a: unknown[] = [];
      done.set(v, a);
      items.forEach((x, i) => a.push(go(x, path ? `${path}.${i}` : String(i), depth + 1)));
      return a;
    }
    if (v instanceof Uint8Array) return v;
    if (v instanceof PyGlobal) {
      const h = v.handler as { dtypeName?: string };
      return h.dtypeName ?? v.qualifiedName;
    }
    if (v instanceof StorageRef) throw new TorchError(OP, `${name}: ${path || 'the file'} is a bare storage, not a tensor; torchlet loads tensors`);
    throw new TorchError(OP, `${name}: ${path || 'the file'} holds a ${describe(v)}, which torchlet cannot load`);
  };
  return go(root, '', 0);
}

export function readTorchFile<T = TensorRecord>(path: string, opts: ReadTorchOptions<T> = {}): unknown {
  const src = fileSource(path, OP);
  try {
    return readTorch(src, opts);
  } finally {
    src.close();
  }
}

export function parseTorch<T = TensorRecord>(bytes: Uint8Array, name = '<buffer>', opts: ReadTorchOptions<T> = {}): unknown {
  return readTorch(bufferSource(bytes, name, OP), opts);
}
