/**
 * A restricted pickle interpreter. It never runs code from the file: GLOBAL only resolves
 * names the caller allowlists (anything else is an error naming the global), REDUCE/BUILD
 * only call the caller's handlers, and the opcodes that instantiate arbitrary classes
 * (INST, OBJ, EXT*, NEWOBJ on a non-allowlisted class) are refused. It runs in one pass over
 * the input, so it terminates in time linear in the input's length.
 */
import { TorchError } from '../errors.js';

/** A Python dict (or OrderedDict): insertion-ordered, any hashable-ish key. */
export class PyDict {
  readonly map = new Map<unknown, unknown>();
  /** Attributes set by BUILD (OrderedDict's `_metadata` in a state dict). */
  attributes: unknown = undefined;
  constructor(readonly className: 'dict' | 'collections.OrderedDict' = 'dict') {}
}
/** A Python tuple (JS arrays are lists). */
export class PyTuple {
  constructor(readonly items: unknown[]) {}
}
/** A Python set or frozenset. */
export class PySet {
  constructor(readonly items: unknown[], readonly frozen = false) {}
}
/** An allowlisted global, as pushed by GLOBAL / STACK_GLOBAL. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string, readonly handler: GlobalHandler) {}
  get qualifiedName(): string { return `${this.module}.${this.name}`; }
}

export interface GlobalHandler {
  /** REDUCE with this global as the callable. */
  call?: (args: unknown[], ctx: PickleContext) => unknown;
  /** NEWOBJ (cls.__new__(cls, *args)) with this global as the class. */
  newobj?: (args: unknown[], ctx: PickleContext) => unknown;
}

export interface PickleContext {
  /** Throws a TorchError whose message names the file and the byte offset. */
  fail(message: string): never;
}

export interface UnpickleOptions {
  /** Names the input in errors (the file, and the entry within it). */
  name: string;
  /** Error prefix. */
  op?: string;
  /** Allowlist: "module.name" → handler. Other globals are errors. */
  globals: Record<string, GlobalHandler>;
  /** Why a global is refused, when the caller can say more than "not allowed". */
  explainGlobal?: (module: string, name: string) => string | undefined;
  /** BINPERSID / PERSID. Without it, persistent ids are errors. */
  persistentLoad?: (pid: unknown, ctx: PickleContext) => unknown;
  /** BUILD(obj, state). Without it, BUILD is an error. */
  build?: (obj: unknown, state: unknown, ctx: PickleContext) => unknown;
}

const MARK = Symbol('mark');

/** Interprets a pickle; returns the value STOP leaves on the stack. */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions): unknown {
  const op = opts.op ?? 'unpickle';
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  let pos = 0;
  let opStart = 0;
  const fail = (m: string): never => {
    throw new TorchError(op, `${opts.name}: ${m} (pickle byte ${opStart})`);
  };
  const ctx: PickleContext = { fail };
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();

  const need = (k: number, what: string): void => {
    if (pos + k > n) fail(`the pickle is truncated while reading ${what}`);
  };
  const u8 = (): number => { need(1, 'a byte'); return bytes[pos++]; };
  const u16 = (): number => { need(2, 'a 2-byte integer'); const v = dv.getUint16(pos, true); pos += 2; return v; };
  const u32 = (): number => { need(4, 'a 4-byte integer'); const v = dv.getUint32(pos, true); pos += 4; return v; };
  const i32 = (): number => { need(4, 'a 4-byte integer'); const v = dv.getInt32(pos, true); pos += 4; return v; };
  const u64 = (): number => {
    need(8, 'an 8-byte length');
    const v = dv.getBigUint64(pos, true); pos += 8;
    if (v > BigInt(n)) fail(`a length of ${v} bytes exceeds the pickle's size`);
    return Number(v);
  };
  const take = (k: number, what: string): Uint8Array => {
    need(k, what);
    const b = bytes.subarray(pos, pos + k);
    pos += k;
    return b;
  };
  const line = (what: string): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail(`the pickle is truncated while reading ${what} (no newline)`);
    const s = Buffer.from(bytes.subarray(pos, end)).toString('latin1');
    pos = end + 1;
    return s.endsWith('\r') ? s.slice(0, -1) : s;
  };
  const utf8 = (b: Uint8Array): string => {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(b);
    } catch {
      return fail('a string is not valid UTF-8');
    }
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail('stack underflow: the pickle is corrupt');
    const v = stack.pop();
    if (v === MARK) fail('unexpected MARK on the stack: the pickle is corrupt');
    return v;
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('stack underflow: the pickle is corrupt');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    if (metastack.length === 0) fail('no MARK to pop to: the pickle is corrupt');
    const items = stack;
    stack = metastack.pop()!;
    return items;
  };
  const memoGet = (i: number): unknown => {
    if (!memo.has(i)) fail(`memo key ${i} is not set: the pickle is corrupt`);
    return memo.get(i);
  };
  const memoPut = (i: number): void => {
    if (stack.length === 0) fail('nothing on the stack to memoize');
    memo.set(i, stack[stack.length - 1]);
  };
  const parseLong = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    if (b.length <= 6) {
      let v = 0;
      for (let i = b.length - 1; i >= 0; i--) v = v * 256 + b[i];
      if (b[b.length - 1] & 0x80) v -= 2 ** (8 * b.length);
      return v;
    }
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const parseIntText = (s: string, what: string): number | bigint => {
    const t = s.endsWith('L') ? s.slice(0, -1) : s;
    if (!/^[+-]?\d+$/.test(t)) fail(`bad ${what} literal ${JSON.stringify(s.slice(0, 40))}`);
    const v = BigInt(t);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const resolveGlobal = (module: string, name: string): PyGlobal => {
    const key = `${module}.${name}`;
    const h = Object.hasOwn(opts.globals, key) ? opts.globals[key] : undefined;
    if (!h) {
      const why = opts.explainGlobal?.(module, name);
      fail(why ?? `refusing to load the global ${key}: only tensors, state dicts and plain Python containers can be loaded (no code from the file is executed)`);
    }
    return new PyGlobal(module, name, h!);
  };
  const setItems = (d: unknown, kv: unknown[]): void => {
    if (!(d instanceof PyDict)) fail(`SETITEM(S) on a ${describe(d)}, not a dict`);
    if (kv.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < kv.length; i += 2) (d as PyDict).map.set(hashKey(kv[i], fail), kv[i + 1]);
  };
  const appendItems = (l: unknown, items: unknown[]): void => {
    if (!Array.isArray(l)) fail(`APPEND(S) on a ${describe(l)}, not a list`);
    for (const x of items) (l as unknown[]).push(x);
  };
  const pyString = (raw: string): string => {
    // Protocol 0 STRING: a quoted Python 2 str literal.
    const q = raw[0];
    if (raw.length < 2 || (q !== "'" && q !== '"') || raw[raw.length - 1] !== q) fail('a STRING literal is not quoted');
    const body = raw.slice(1, -1);
    return body.replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_m, e: string) => {
      if (e[0] === 'x' && e.length === 3) return String.fromCharCode(parseInt(e.slice(1), 16));
      return ({ n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"' } as Record<string, string>)[e] ?? `\\${e}`;
    });
  };

  for (;;) {
    opStart = pos;
    if (pos >= n) fail('the pickle ended without a STOP opcode (truncated?)');
    const code = bytes[pos++];
    switch (code) {
      case 0x80: { // PROTO
        const p = u8();
        if (p > 5) fail(`unsupported pickle protocol ${p}`);
        break;
      }
      case 0x95: u64(); break; // FRAME: framing is only a read-ahead hint
      case 0x2e: { // STOP
        const v = pop();
        return v;
      }
      case 0x28: metastack.push(stack); stack = []; break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: { const k = u8(); stack.push(parseLong(take(k, 'a LONG1'))); break; }
      case 0x8b: { // LONG4
        const k = i32();
        if (k < 0) fail('negative LONG4 length');
        if (k > 1024) fail(`a ${k}-byte integer is too large`);
        stack.push(parseLong(take(k, 'a LONG4')));
        break;
      }
      case 0x49: { // INT (text); "00"/"01" are protocol 0 booleans
        const s = line('an INT');
        stack.push(s === '00' ? false : s === '01' ? true : parseIntText(s, 'INT'));
        break;
      }
      case 0x4c: stack.push(parseIntText(line('a LONG'), 'LONG')); break; // LONG (text)
      case 0x46: { // FLOAT (text)
        const s = line('a FLOAT');
        const v = Number(s);
        if (s.trim() === '' || (Number.isNaN(v) && !/^[+-]?nan$/i.test(s.trim()))) fail(`bad FLOAT literal ${JSON.stringify(s.slice(0, 40))}`);
        stack.push(v);
        break;
      }
      case 0x47: { need(8, 'a BINFLOAT'); stack.push(dv.getFloat64(pos, false)); pos += 8; break; }
      case 0x58: { const k = u32(); stack.push(utf8(take(k, 'a BINUNICODE'))); break; }
      case 0x8c: { const k = u8(); stack.push(utf8(take(k, 'a SHORT_BINUNICODE'))); break; }
      case 0x8d: { const k = u64(); stack.push(utf8(take(k, 'a BINUNICODE8'))); break; }
      case 0x56: { // UNICODE (raw-unicode-escape, text)
        const s = line('a UNICODE');
        stack.push(s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, a?: string, b?: string) => {
          const cp = parseInt((a ?? b)!, 16);
          if (cp > 0x10ffff) fail('bad code point in a UNICODE literal');
          return String.fromCodePoint(cp);
        }));
        break;
      }
      case 0x53: stack.push(pyString(line('a STRING'))); break; // STRING
      case 0x54: { const k = i32(); if (k < 0) fail('negative BINSTRING length'); stack.push(Buffer.from(take(k, 'a BINSTRING')).toString('latin1')); break; }
      case 0x55: { const k = u8(); stack.push(Buffer.from(take(k, 'a SHORT_BINSTRING')).toString('latin1')); break; }
      case 0x42: { const k = u32(); stack.push(take(k, 'BINBYTES').slice()); break; }
      case 0x43: { const k = u8(); stack.push(take(k, 'SHORT_BINBYTES').slice()); break; }
      case 0x8e: case 0x96: { const k = u64(); stack.push(take(k, 'BINBYTES8').slice()); break; }
      case 0x7d: stack.push(new PyDict()); break; // EMPTY_DICT
      case 0x64: { // DICT
        const items = popMark();
        const d = new PyDict();
        setItems(d, items);
        stack.push(d);
        break;
      }
      case 0x73: { const v = pop(), k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x6c: { const items = popMark(); stack.push(items); } break; // LIST
      case 0x61: { const v = pop(); appendItems(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); appendItems(top(), items); break; } // APPENDS
      case 0x29: stack.push(new PyTuple([])); break; // EMPTY_TUPLE
      case 0x74: { const items = popMark(); stack.push(new PyTuple(items)); } break; // TUPLE
      case 0x85: { const a = pop(); stack.push(new PyTuple([a])); break; }
      case 0x86: { const b = pop(), a = pop(); stack.push(new PyTuple([a, b])); break; }
      case 0x87: { const c = pop(), b = pop(), a = pop(); stack.push(new PyTuple([a, b, c])); break; }
      case 0x8f: stack.push(new PySet([])); break; // EMPTY_SET
      case 0x90: { // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof PySet) || s.frozen) fail(`ADDITEMS on a ${describe(s)}, not a set`);
        (s as PySet).items.push(...items);
        break;
      }
      case 0x91: { const items = popMark(); stack.push(new PySet(items, true)); } break; // FROZENSET
      case 0x70: memoPut(Number(parseIntText(line('a PUT'), 'PUT'))); break; // PUT
      case 0x71: memoPut(u8()); break; // BINPUT
      case 0x72: memoPut(u32()); break; // LONG_BINPUT
      case 0x94: memoPut(memo.size); break; // MEMOIZE
      case 0x67: stack.push(memoGet(Number(parseIntText(line('a GET'), 'GET')))); break; // GET
      case 0x68: stack.push(memoGet(u8())); break; // BINGET
      case 0x6a: stack.push(memoGet(u32())); break; // LONG_BINGET
      case 0x63: { // GLOBAL "module\nname\n"
        const module = line('a GLOBAL module'), name = line('a GLOBAL name');
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop(), f = pop();
        if (!(f instanceof PyGlobal)) fail(`REDUCE calls a ${describe(f)}, which is not an allowlisted callable`);
        if (!(args instanceof PyTuple)) fail(`REDUCE with ${describe(args)} arguments instead of a tuple`);
        const g = f as PyGlobal;
        if (!g.handler.call) fail(`${g.qualifiedName} cannot be called`);
        stack.push(g.handler.call!((args as PyTuple).items, ctx));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop(), cls = pop();
        if (!(cls instanceof PyGlobal) || !cls.handler.newobj) fail(`NEWOBJ of ${describe(cls)} is not allowed`);
        if (!(args instanceof PyTuple)) fail('NEWOBJ arguments are not a tuple');
        stack.push((cls as PyGlobal).handler.newobj!((args as PyTuple).items, ctx));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const obj = top();
        if (!opts.build) fail(`BUILD on a ${describe(obj)} is not allowed`);
        stack[stack.length - 1] = opts.build!(obj, state, ctx);
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) fail('persistent ids are not allowed here');
        stack.push(opts.persistentLoad!(pid, ctx));
        break;
      }
      case 0x50: { // PERSID
        const pid = line('a PERSID');
        if (!opts.persistentLoad) fail('persistent ids are not allowed here');
        stack.push(opts.persistentLoad!(pid, ctx));
        break;
      }
      case 0x69: fail('the INST opcode (instantiate a class by name) is not allowed'); break;
      case 0x6f: fail('the OBJ opcode (instantiate a class) is not allowed'); break;
      case 0x92: fail('the NEWOBJ_EX opcode (instantiate a class) is not allowed'); break;
      case 0x82: case 0x83: case 0x84: fail('extension-registry opcodes (EXT1/2/4) are not allowed'); break;
      case 0x97: case 0x98: fail('out-of-band buffers (pickle protocol 5) are not supported'); break;
      default: fail(`unknown pickle opcode 0x${code.toString(16).padStart(2, '0')}: the data is corrupt or not a pickle`);
    }
  }
}

/** Dict keys: strings, numbers, booleans, None and tuples of those, mapped to a JS Map key. */
function hashKey(k: unknown, fail: (m: string) => never): unknown {
  if (k === null || typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') {
    return k;
  }
  if (k instanceof PyTuple) return `(${k.items.map((x) => String(hashKey(x, fail))).join(', ')})`;
  return fail(`a dict key of type ${describe(k)} is not supported`);
}

/** A short description of a value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PyGlobal) return v.qualifiedName;
  if (v instanceof PyDict) return v.className;
  if (v instanceof PyTuple) return 'tuple';
  if (v instanceof PySet) return v.frozen ? 'frozenset' : 'set';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}
