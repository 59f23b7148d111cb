/**
 * nn.Module, nn.Parameter and the containers (Sequential, ModuleList, ModuleDict).
 *
 * A Module registers what its subclass assigns, as PyTorch's `__setattr__` does: assigning a
 * Parameter registers a parameter, a Module registers a child, and assigning to a name given
 * to `registerBuffer` updates that buffer. Registration order is assignment order, so
 * `stateDict()` keys and `toString()` match PyTorch's for the same architecture.
 *
 *   class Net extends nn.Module {
 *     fc1 = new nn.Linear(784, 256);
 *     fc2 = new nn.Linear(256, 10);
 *     forward(x: Tensor): Tensor { return this.fc2.forward(this.fc1.forward(x).relu()); }
 *   }
 */
import { Tensor } from '../tensor.js';
import type { DType } from '../dtype.js';
import { isDType } from '../dtype.js';
import { noGrad } from '../autograd/grad_mode.js';
import { TorchError, ShapeError, fmtShape } from '../errors.js';
import { formatTensor } from '../format.js';
import { zeros } from '../ops/creation.js';

// ---------------------------------------------------------------- Parameter

/**
 * A Tensor that a Module registers as a parameter when assigned to one of its fields. It
 * shares storage with the tensor it wraps and requires grad by default.
 */
export class Parameter extends Tensor {
  constructor(data?: Tensor, requiresGrad = true) {
    const src = data ?? zeros([0]);
    if (!(src instanceof Tensor)) throw new TorchError('Parameter', `expected a Tensor, got ${typeof data}`);
    super(src._storage, src.shape, src._strides, src._offset);
    if (requiresGrad) this.requiresGrad_(true);
  }
  override toString(): string { return `Parameter containing:\n${formatTensor(this)}`; }
  [Symbol.for('nodejs.util.inspect.custom')](): string { return this.toString(); }
}

// ---------------------------------------------------------------- Module

type Kind = 'param' | 'buffer' | 'module';

interface Registry {
  parameters: Map<string, true>;
  buffers: Map<string, true>;
  modules: Map<string, true>;
  nonPersistent: Set<string>;
}

const REG = Symbol('torchlet.nn.registry');

function reg(m: Module): Registry { return (m as unknown as { [REG]: Registry })[REG]; }

function removeFrom(r: Registry, name: string): void {
  r.parameters.delete(name);
  r.buffers.delete(name);
  r.modules.delete(name);
  r.nonPersistent.delete(name);
}

function checkName(what: string, name: unknown): string {
  if (typeof name !== 'string') throw new TorchError(what, `name must be a string, got ${typeof name}`);
  if (name === '') throw new TorchError(what, 'name can\'t be empty string ""');
  if (name.includes('.')) throw new TorchError(what, `name can't contain ".", got "${name}"`);
  return name;
}

/** Records a field assignment in the registry, as PyTorch's Module.__setattr__. */
function onAssign(target: Module, name: string, value: unknown): void {
  const r = reg(target);
  if (value instanceof Parameter) {
    if (!r.parameters.has(name)) { removeFrom(r, name); r.parameters.set(name, true); }
  } else if (value instanceof Module) {
    if (!r.modules.has(name)) { removeFrom(r, name); r.modules.set(name, true); }
  } else if (r.parameters.has(name)) {
    if (value !== null && value !== undefined)
      throw new TorchError(target._getName(), `cannot assign a ${value instanceof Tensor ? 'Tensor' : typeof value} as parameter '${name}' (nn.Parameter or null expected); wrap it: new nn.Parameter(t)`);
  } else if (r.modules.has(name)) {
    if (value !== null && value !== undefined)
      throw new TorchError(target._getName(), `cannot assign a ${typeof value} as child module '${name}' (nn.Module or null expected)`);
  } else if (r.buffers.has(name)) {
    if (value !== null && value !== undefined && !(value instanceof Tensor))
      throw new TorchError(target._getName(), `cannot assign a ${typeof value} as buffer '${name}' (Tensor or null expected)`);
  }
}

const handler: ProxyHandler<Module> = {
  set(target, prop, value, receiver) {
    if (typeof prop === 'string') onAssign(target, prop, value);
    return Reflect.set(target, prop, value, receiver);
  },
  defineProperty(target, prop, desc) {
    // class fields are defined, not assigned (useDefineForClassFields)
    if (typeof prop === 'string' && 'value' in desc) {
      if (desc.value === undefined) {
        // a subclass field declared without initialiser (`weight!: Parameter`) must not wipe what a parent registered
        const r = reg(target);
        if (r.parameters.has(prop) || r.buffers.has(prop) || r.modules.has(prop)) return true;
      } else onAssign(target, prop, desc.value);
    }
    return Reflect.defineProperty(target, prop, desc);
  },
  deleteProperty(target, prop) {
    if (typeof prop === 'string') removeFrom(reg(target), prop);
    return Reflect.deleteProperty(target, prop);
  },
};

/** `module.to(...)` arguments. */
export type ModuleToArg = string | DType | { device?: string; dtype?: DType };

/** Indents every line but the first (PyTorch's _addindent). */
function addIndent(s: string, n: number): string {
  const lines = s.split('\n');
  if (lines.length === 1) return s;
  return [lines[0], ...lines.slice(1).map((l) => ' '.repeat(n) + l)].join('\n');
}

/** Swaps t's data for r's (same shape), keeping t's identity (optimizers hold references). */
function setData(t: Tensor, r: Tensor): void {
  if (r === t) return;
  const w = t as unknown as { _storage: unknown; _strides: readonly number[]; _offset: number; _base: Tensor | null; _cachedView: unknown };
  w._storage = r._storage;
  w._strides = r._strides;
  w._offset = r._offset;
  w._base = null;
  w._cachedView = null; // the View cached by Tensor._view described the old storage
}

export interface LoadStateDictResult { missingKeys: string[]; unexpectedKeys: string[] }

/** The base class of every layer and model. Subclasses implement `forward(...)`. */
export class Module {
  /** True in training mode (the default), false after eval(). */
  training = true;

  constructor() {
    Object.defineProperty(this, REG, {
      value: { parameters: new Map(), buffers: new Map(), modules: new Map(), nonPersistent: new Set() } satisfies Registry,
      enumerable: false,
    });
    // Field assignments in subclasses go through the proxy, which registers them.
    return new Proxy(this, handler);
  }

  /** Runs the module. Subclasses override it; modules are not callable. */
  forward(..._inputs: any[]): any {
    throw new TorchError(this._getName(), `Module [${this._getName()}] is missing the required "forward" function`);
  }

  /** The class name PyTorch prints (override when a minifier renames classes). */
  _getName(): string { return this.constructor.name; }

  /** One line (or several) describing the module's settings, as PyTorch's extra_repr. */
  extraRepr(): string { return ''; }

  // ------------------------------------------------------------ registration

  /** Adds a parameter (or a null placeholder, e.g. a disabled bias) under name. */
  registerParameter(name: string, param: Parameter | null): void {
    checkName('registerParameter', name);
    if (param !== null && !((param as unknown) instanceof Parameter))
      throw new TorchError('registerParameter', `cannot assign a ${param instanceof Tensor ? 'Tensor' : typeof param} object to parameter '${name}' (nn.Parameter or null required)`);
    const r = reg(this);
    removeFrom(r, name);
    r.parameters.set(name, true);
    Reflect.set(rawOf(this), name, param);
  }
  /** Adds a buffer: state that is not a parameter (e.g. BatchNorm's running_mean). Non-persistent buffers are left out of stateDict(). */
  registerBuffer(name: string, tensor: Tensor | null, persistent = true): void {
    checkName('registerBuffer', name);
    if (tensor !== null && !(tensor instanceof Tensor)) throw new TorchError('registerBuffer', `cannot assign a ${typeof tensor} object to buffer '${name}' (Tensor or null required)`);
    const r = reg(this);
    if (r.parameters.has(name) || r.modules.has(name)) throw new TorchError('registerBuffer', `attribute '${name}' already exists`);
    removeFrom(r, name);
    r.buffers.set(name, true);
    if (!persistent) r.nonPersistent.add(name);
    Reflect.set(rawOf(this), name, tensor);
  }
  /** Adds a child module under name (names may be any string without '.', e.g. '0'). */
  registerModule(name: string, module: Module | null): void {
    checkName('registerModule', name);
    if (module !== null && !(module instanceof Module)) throw new TorchError('registerModule', `${typeof module} is not a Module subclass`);
    const r = reg(this);
    removeFrom(r, name);
    r.modules.set(name, true);
    Reflect.set(rawOf(this), name, module);
  }
  /** Alias of registerModule (PyTorch's add_module). */
  addModule(name: string, module: Module | null): void { this.registerModule(name, module); }

  /** The child module, parameter or buffer under a dotted path ('features.0.weight'). */
  getSubmodule(target: string): Module {
    if (target === '') return this;
    let m: Module = this;
    for (const part of target.split('.')) {
      const c = reg(m).modules.has(part) ? (m as any)[part] : undefined;
      if (!(c instanceof Module)) throw new TorchError('getSubmodule', `${m._getName()} has no attribute \`${part}\``);
      m = c;
    }
    return m;
  }
  getParameter(target: string): Parameter {
    const i = target.lastIndexOf('.');
    const m = this.getSubmodule(i < 0 ? '' : target.slice(0, i));
    const name = target.slice(i + 1);
    const p = reg(m).parameters.has(name) ? (m as any)[name] : undefined;
    if (!(p instanceof Parameter)) throw new TorchError('getParameter', `${m._getName()} has no parameter \`${name}\``);
    return p;
  }

  // ------------------------------------------------------------ traversal

  /** @internal own entries of a kind, in registration order (null entries included). */
  _own(kind: Kind): [string, any][] {
    const r = reg(this);
    const map = kind === 'param' ? r.parameters : kind === 'buffer' ? r.buffers : r.modules;
    const raw = rawOf(this) as any;
    return [...map.keys()].map((k) => [k, raw[k]]);
  }

  /** [name, child] for the direct children. */
  namedChildren(): [string, Module][] {
    const seen = new Set<Module>();
    const out: [string, Module][] = [];
    for (const [k, m] of this._own('module')) if (m && !seen.has(m)) { seen.add(m); out.push([k, m]); }
    return out;
  }
  children(): Module[] { return this.namedChildren().map(([, m]) => m); }

  /** [prefixed name, module] for this module and all below it, depth first ('' is this module). */
  namedModules(prefix = '', removeDuplicate = true, memo: Set<Module> = new Set()): [string, Module][] {
    const out: [string, Module][] = [];
    const visit = (m: Module, p: string) => {
      if (removeDuplicate) { if (memo.has(m)) return; memo.add(m); }
      out.push([p, m]);
      for (const [k, c] of m._own('module')) if (c) visit(c, p ? `${p}.${k}` : k);
    };
    visit(this, prefix);
    return out;
  }
  modules(): Module[] { return this.namedModules().map(([, m]) => m); }

  private namedMembers(kind: 'param' | 'buffer', prefix: string, recurse: boolean, removeDuplicate: boolean): [string, any][] {
    const mods = recurse ? this.namedModules(prefix, removeDuplicate) : [[prefix, this] as [string, Module]];
    const seen = new Set<Tensor>();
    const out: [string, any][] = [];
    for (const [p, m] of mods) {
      for (const [k, v] of m._own(kind)) {
        if (!v) continue;
        if (removeDuplicate) { if (seen.has(v)) continue; seen.add(v); }
        out.push([p ? `${p}.${k}` : k, v]);
      }
    }
    return out;
  }
  /** [dotted name, parameter] in PyTorch's order (own parameters, then children's). */
  namedParameters(prefix = '', recurse = true, removeDuplicate = true): [string, Parameter][] {
    return this.namedMembers('param', prefix, recurse, removeDuplicate);
  }
  parameters(recurse = true): Parameter[] { return this.namedParameters('', recurse).map(([, p]) => p); }
  /** [dotted name, buffer] in PyTorch's order. */
  namedBuffers(prefix = '', recurse = true, removeDuplicate = true): [string, Tensor][] {
    return this.namedMembers('buffer', prefix, recurse, removeDuplicate);
  }
  buffers(recurse = true): Tensor[] { return this.namedBuffers('', recurse).map(([, b]) => b); }

  // ------------------------------------------------------------ modes and state

  /** Sets training mode on this module and every descendant; returns this. */
  train(mode = true): this {
    if (typeof mode !== 'boolean') throw new TorchError('train', `training mode is expected to be boolean, got ${typeof mode}`);
    (rawOf(this) as Module).training = mode;
    for (const c of this.children()) c.train(mode);
    return this;
  }
  /** train(false). */
  eval(): this { return this.train(false); }

  /** Calls fn on every child (recursively) and then on this module, as PyTorch's apply; returns this. */
  apply(fn: (m: Module) => void): this {
    for (const c of this.children()) c.apply(fn);
    fn(this);
    return this;
  }

  /** Clears the gradients of all parameters (sets .grad to null, as PyTorch 2.x; setToNone=false zeroes them instead). */
  zeroGrad(setToNone = true): void {
    for (const p of this.parameters()) {
      if (!p.grad) continue;
      if (setToNone) p.grad = null;
      else noGrad(() => { p.grad = p.grad!.detach(); p.grad.zero_(); });
    }
  }

  /** Sets requiresGrad on every parameter; returns this. */
  requiresGrad_(requiresGrad = true): this {
    for (const p of this.parameters()) p.requiresGrad_(requiresGrad);
    return this;
  }

  /**
   * Moves or casts parameters and buffers in place (to a device, a float dtype or both);
   * returns this. As PyTorch, dtype casts apply only to floating point tensors.
   */
  to(arg: ModuleToArg, opts?: { device?: string; dtype?: DType }): this {
    let device: string | undefined, dtype: DType | undefined;
    if (typeof arg === 'string') { if (isDType(arg)) dtype = arg; else device = arg; }
    else if (arg && typeof arg === 'object') { device = arg.device; dtype = arg.dtype; }
    else throw new TorchError('Module.to', `expected a device string, a dtype or { device, dtype }, got ${String(arg)}`);
    if (opts) { device = opts.device ?? device; dtype = opts.dtype ?? dtype; }
    if (dtype !== undefined && !(dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16'))
      throw new TorchError('Module.to', `nn.Module.to only accepts floating point dtypes, but got desired dtype=${dtype}`);
    const convert = (t: Tensor): Tensor => {
      const d = dtype !== undefined && t.isFloatingPoint() ? dtype : undefined;
      if (d === undefined && device === undefined) return t;
      return t.to({ device, dtype: d });
    };
    return this._applyToTensors(convert);
  }
  /** @internal converts every parameter (and its grad) and buffer in place. */
  _applyToTensors(convert: (t: Tensor) => Tensor): this {
    noGrad(() => {
      for (const m of this.modules()) {
        for (const [, p] of m._own('param')) {
          if (!p) continue;
          setData(p, convert(p.detach()));
          if (p.grad) p.grad = convert(p.grad);
        }
        for (const [, b] of m._own('buffer')) if (b) setData(b, convert(b.detach()));
      }
    });
    return this;
  }
  cpu(): this { return this.to('cpu'); }
  cuda(i?: number): this { return this.to(i === undefined ? 'cuda' : `cuda:${i}`); }
  float(): this { return this.to('float32'); }
  double(): this { return this.to('float64'); }
  half(): this { return this.to('float16'); }
  bfloat16(): this { return this.to('bfloat16'); }

  /**
   * Parameters and persistent buffers by PyTorch's dotted keys (`0.weight`, `bn.running_mean`,
   * `bn.num_batches_tracked`). Values share storage with the module's tensors (detached).
   */
  stateDict(opts: { prefix?: string; keepVars?: boolean } = {}): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    const visit = (m: Module, prefix: string) => {
      for (const [k, p] of m._own('param')) if (p) out[prefix + k] = opts.keepVars ? p : p.detach();
      const np = reg(m).nonPersistent;
      for (const [k, b] of m._own('buffer')) if (b && !np.has(k)) out[prefix + k] = opts.keepVars ? b : b.detach();
      for (const [k, c] of m._own('module')) if (c) visit(c, `${prefix}${k}.`);
    };
    visit(this, opts.prefix ?? '');
    return out;
  }

  /**
   * Copies a state dict (a plain object or a Map of tensors) into the parameters and buffers.
   * With strict (the default) missing or unexpected keys are an error, as in PyTorch; shape
   * mismatches are always an error. Returns the missing and unexpected keys.
   */
  loadStateDict(stateDict: Record<string, Tensor> | Map<string, Tensor>, opts: { strict?: boolean } = {}): LoadStateDictResult {
    const strict = opts.strict ?? true;
    if (!(stateDict instanceof Map) && (typeof stateDict !== 'object' || stateDict === null))
      throw new TorchError('loadStateDict', `expected a state dict (an object or Map of tensors), got ${typeof stateDict}`);
    const sd = new Map(stateDict instanceof Map ? stateDict : Object.entries(stateDict));
    const expected = new Map<string, Tensor>();
    const visit = (m: Module, prefix: string) => {
      m._upgradeStateDict(sd, prefix);
      for (const [k, p] of m._own('param')) if (p) expected.set(prefix + k, p);
      const np = reg(m).nonPersistent;
      for (const [k, b] of m._own('buffer')) if (b && !np.has(k)) expected.set(prefix + k, b);
      for (const [k, c] of m._own('module')) if (c) visit(c, `${prefix}${k}.`);
    };
    visit(this, '');
    const missingKeys: string[] = [], unexpectedKeys: string[] = [], errors: string[] = [];
    for (const k of expected.keys()) if (!sd.has(k)) missingKeys.push(k);
    for (const k of sd.keys()) if (!expected.has(k)) unexpectedKeys.push(k);
    for (const [k, dst] of expected) {
      const src = sd.get(k);
      if (src === undefined) continue;
      if (!(src instanceof Tensor)) { errors.push(`While copying the parameter named "${k}", expected a Tensor but got ${typeof src}.`); continue; }
      const same = src.ndim === dst.ndim && src.shape.every((s, i) => s === dst.shape[i]);
      if (!same) errors.push(`size mismatch for ${k}: copying a param with shape ${fmtShape(src.shape)} from checkpoint, the shape in current model is ${fmtShape(dst.shape)}.`);
    }
    if (strict) {
      if (unexpectedKeys.length) errors.unshift(`Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(', ')}.`);
      if (missingKeys.length) errors.unshift(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(', ')}.`);
    }
    if (errors.length)
      throw new ShapeError('loadStateDict', `Error(s) in loading state_dict for ${this._getName()}:\n\t${errors.join('\n\t')}`);
    noGrad(() => {
      for (const [k, dst] of expected) {
        const src = sd.get(k);
        if (src !== undefined) dst.copy_(src);
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /** @internal fills in entries that older checkpoints lack (BatchNorm's num_batches_tracked), as PyTorch's _load_from_state_dict. */
  _upgradeStateDict(_sd: Map<string, Tensor>, _prefix: string): void {}

  /** Number of parameter elements (all, or only those requiring grad). */
  numParameters(onlyTrainable = false): number {
    return this.parameters().filter((p) => !onlyTrainable || p.requiresGrad).reduce((a, p) => a + p.numel(), 0);
  }

  // ------------------------------------------------------------ printing

  /** The module tree as PyTorch prints it. */
  toString(): string {
    const extra = this.extraRepr();
    const extraLines = extra ? extra.split('\n') : [];
    const childLines = this._own('module').map(([k, m]) => `(${k}): ${addIndent(m ? m.toString() : 'None', 2)}`);
    const lines = [...extraLines, ...childLines];
    let s = `${this._getName()}(`;
    if (lines.length) {
      if (extraLines.length === 1 && childLines.length === 0) s += extraLines[0];
      else s += `\n  ${lines.join('\n  ')}\n`;
    }
    return `${s})`;
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string { return this.toString(); }
}

/** The unproxied object behind a module (writes to it skip registration). */
function rawOf(m: Module): Module {
  return m;
}

// ---------------------------------------------------------------- containers

/** Modules run in order; built from modules or from an object of named modules. */
export class Sequential extends Module {
  constructor(...modules: (Module | Record<string, Module>)[]) {
    super();
    if (modules.length === 1 && !(modules[0] instanceof Module) && typeof modules[0] === 'object' && modules[0] !== null) {
      for (const [k, m] of Object.entries(modules[0] as Record<string, Module>)) this.registerModule(k, m);
    } else {
      modules.forEach((m, i) => {
        if (!(m instanceof Module)) throw new TorchError('Sequential', `argument ${i} is not a Module (got ${typeof m})`);
        this.registerModule(String(i), m);
      });
    }
  }
  /** Runs the modules in order; the output of each is the input of the next. */
  override forward(input: any): any {
    let x = input;
    for (const m of this.children()) x = m.forward(x);
    return x;
  }
  get length(): number { return this._own('module').length; }
  /** The i-th module (negative counts from the end). */
  at(i: number): Module {
    const mods = this._own('module');
    const j = i < 0 ? i + mods.length : i;
    if (!Number.isInteger(j) || j < 0 || j >= mods.length) throw new TorchError('Sequential', `index ${i} is out of range`);
    return mods[j][1];
  }
  /** Appends a module; returns this. */
  append(m: Module): this { this.registerModule(String(this._own('module').length), m); return this; }
  [Symbol.iterator](): Iterator<Module> { return this._own('module').map(([, m]) => m as Module)[Symbol.iterator](); }
}

/** A list of modules, registered as children '0', '1', ... */
export class ModuleList extends Module {
  constructor(modules: Iterable<Module> = []) {
    super();
    for (const m of modules) this.append(m);
  }
  get length(): number { return this._own('module').length; }
  at(i: number): Module {
    const mods = this._own('module');
    const j = i < 0 ? i + mods.length : i;
    if (!Number.isInteger(j) || j < 0 || j >= mods.length) throw new TorchError('ModuleList', `index ${i} is out of range`);
    return mods[j][1];
  }
  set(i: number, m: Module): void {
    const n = this.length;
    const j = i < 0 ? i + n : i;
    if (!Number.isInteger(j) || j < 0 || j >= n) throw new TorchError('ModuleList', `index ${i} is out of range`);
    this.registerModule(String(j), m);
  }
  append(m: Module): this {
    if (!(m instanceof Module)) throw new TorchError('ModuleList', `ModuleList can only hold Modules, got ${typeof m}`);
    this.registerModule(String(this.length), m);
    return this;
  }
  extend(ms: Iterable<Module>): this { for (const m of ms) this.append(m); return this; }
  [Symbol.iterator](): Iterator<Module> { return this._own('module').map(([, m]) => m as Module)[Symbol.iterator](); }
  override forward(): any { throw new TorchError('ModuleList', 'ModuleList has no forward; iterate over it and call forward on its modules'); }
  /** Repeated identical children print once as "(0-2): 3 x Linear(...)", as PyTorch 2.x. */
  override toString(): string {
    const reprs = this._own('module').map(([, m]) => (m as Module).toString());
    if (reprs.length === 0) return `${this._getName()}()`;
    const blocks: { start: number; end: number; repr: string }[] = [];
    reprs.forEach((r, i) => {
      const last = blocks[blocks.length - 1];
      if (last && last.repr === r) last.end = i;
      else blocks.push({ start: i, end: i, repr: r });
    });
    const lines = blocks.map((b) => addIndent(b.start === b.end ? `(${b.start}): ${b.repr}` : `(${b.start}-${b.end}): ${b.end - b.start + 1} x ${b.repr}`, 2));
    return `${this._getName()}(\n  ${lines.join('\n  ')}\n)`;
  }
}

/** Modules by name (insertion order kept, names may look like numbers). */
export class ModuleDict extends Module {
  constructor(modules: Record<string, Module> | Iterable<[string, Module]> = {}) {
    super();
    this.update(modules);
  }
  get size(): number { return this._own('module').length; }
  get(key: string): Module | undefined { return this.has(key) ? (this as any)[key] : undefined; }
  set(key: string, m: Module): this { this.registerModule(key, m); return this; }
  has(key: string): boolean { return this._own('module').some(([k]) => k === key); }
  delete(key: string): boolean {
    if (!this.has(key)) return false;
    delete (this as any)[key];
    return true;
  }
  keys(): string[] { return this._own('module').map(([k]) => k); }
  values(): Module[] { return this._own('module').map(([, m]) => m); }
  entries(): [string, Module][] { return this._own('module'); }
  items(): [string, Module][] { return this.entries(); }
  update(modules: Record<string, Module> | Iterable<[string, Module]>): this {
    const entries = Symbol.iterator in Object(modules) ? [...(modules as Iterable<[string, Module]>)] : Object.entries(modules);
    for (const [k, m] of entries) this.registerModule(k, m);
    return this;
  }
  [Symbol.iterator](): Iterator<string> { return this.keys()[Symbol.iterator](); }
  override forward(): any { throw new TorchError('ModuleDict', 'ModuleDict has no forward; look modules up with get(name)'); }
}
