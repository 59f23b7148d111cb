/**
 * torch.optim.Optimizer: parameter groups with defaults filled in, per-parameter state,
 * zeroGrad, step(closure?), and state dicts in PyTorch's layout
 * (`{ state: { 0: {...} }, param_groups: [{ lr, ..., params: [0, 1] }] }`, snake_case keys),
 * so an optimizer state saved by PyTorch loads 1:1 and the other way round.
 *
 * Options are camelCase everywhere in TypeScript (constructor options and `paramGroups`,
 * e.g. `weightDecay`); they are snake_case (`weight_decay`) only inside state dicts.
 */
import { Tensor } from '../tensor.js';
import { noGrad, enableGrad } from '../autograd/grad_mode.js';
import { TorchError } from '../errors.js';
import { scalarTensor } from '../ops/core.js';
import { isFloating } from '../dtype.js';

/** A parameter group as the optimizer holds it: the tensors and every option, defaults filled in. */
export interface ParamGroup {
  params: Tensor[];
  lr: number;
  [option: string]: any;
}
/** A parameter group as given to a constructor or `addParamGroup`: `{ params, ...options }`. */
export interface ParamGroupInput {
  params: Tensor | Iterable<Tensor>;
  [option: string]: unknown;
}
/** What optimizers accept as `params`: tensors (e.g. `model.parameters()`) or parameter groups. */
export type Params = Iterable<Tensor> | Iterable<ParamGroupInput>;

/** A state dict in PyTorch's layout (keys snake_case; parameters named by their index). */
export interface OptimizerStateDict {
  state: Record<number | string, Record<string, unknown>>;
  param_groups: Record<string, unknown>[];
}

/** weightDecay -> weight_decay */
export function camelToSnake(k: string): string {
  return k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
/** weight_decay -> weightDecay (leading underscores are kept) */
export function snakeToCamel(k: string): string {
  return k.replace(/(?<=[A-Za-z0-9])_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Options whose PyTorch message names them other than `<snake_name> value`. */
const OPTION_LABELS: Record<string, string> = { lr: 'learning rate', eps: 'epsilon value' };

/**
 * Checks that each named option of a group is a number >= 0, in the order given (the first bad
 * one is reported, with PyTorch's wording: "Invalid weight_decay value: -1").
 */
export function checkNonNegative(op: string, g: ParamGroup, keys: readonly string[]): void {
  for (const k of keys) {
    const v = g[k];
    if (typeof v !== 'number' || Number.isNaN(v) || v < 0)
      throw new TorchError(op, `Invalid ${OPTION_LABELS[k] ?? `${camelToSnake(k)} value`}: ${String(v)} (it must be a number >= 0)`);
  }
}
/** Checks that each named option of a group is a boolean (PyTorch would take any truthy value; we refuse the typo). */
export function checkBool(op: string, g: ParamGroup, keys: readonly string[]): void {
  for (const k of keys)
    if (typeof g[k] !== 'boolean') throw new TorchError(op, `option ${k} must be a boolean, got ${String(g[k])}`);
}

type StepClosure = () => Tensor | number | void | null | undefined;

function isIterable(x: unknown): x is Iterable<unknown> {
  return x !== null && x !== undefined && typeof (x as any)[Symbol.iterator] === 'function';
}
function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object' || Array.isArray(x) || x instanceof Tensor) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}
/** A tuple loaded from a file (PyTuple-like or array) as an array. */
function asArray(v: unknown): unknown {
  if (Array.isArray(v)) return [...v];
  if (v && typeof v === 'object' && !(v instanceof Tensor) && !isPlainObject(v) && isIterable(v) && !ArrayBuffer.isView(v)) return [...(v as Iterable<unknown>)];
  return v;
}

/**
 * Base class of the optimizers. `params` is an iterable of tensors (e.g. `model.parameters()`)
 * or of param groups `{ params, ...options }`; options a group leaves out take the
 * constructor's values.
 */
export abstract class Optimizer {
  /** The class name used in messages ('SGD', 'Adam', ...). */
  protected readonly name: string;
  /** Default options (camelCase) filled into every group that does not set them. */
  readonly defaults: Readonly<Record<string, unknown>>;
  paramGroups: ParamGroup[] = [];
  /** Per-parameter state (camelCase keys, e.g. `expAvg`; `step` is a number). */
  state: Map<Tensor, Record<string, any>> = new Map();
  /** @internal number of step() calls (schedulers read it) */
  _stepCount = 0;

  constructor(params: Params, defaults: Record<string, unknown>, name?: string) {
    this.name = name ?? new.target.name;
    this.defaults = { ...defaults };
    if (params instanceof Tensor)
      throw new TorchError(this.name, 'params argument given to the optimizer should be an iterable of Tensors or dicts, but got a single Tensor; wrap it in an array: [t]');
    if (!isIterable(params))
      throw new TorchError(this.name, `params argument given to the optimizer should be an iterable of Tensors or param groups, got ${params === null ? 'null' : typeof params}`);
    const list = [...(params as Iterable<unknown>)];
    if (list.length === 0) throw new TorchError(this.name, 'optimizer got an empty parameter list');
    const groups: ParamGroupInput[] = list[0] instanceof Tensor ? [{ params: list as Tensor[] }] : (list as ParamGroupInput[]);
    for (const g of groups) this.addParamGroup(g);
  }

  /** Checks one group's options (after defaults are filled); throws a TorchError naming the bad option. */
  protected validateGroup(_group: ParamGroup): void {}
  /** Called for each new group (Adagrad initialises its state here). */
  protected initGroup(_group: ParamGroup): void {}
  /**
   * Updates the parameters of one group; runs with gradient recording off. Custom optimizers
   * implement this (or override step() entirely).
   */
  protected updateGroup(_group: ParamGroup): void {
    throw new TorchError(`${this.name}.step`, 'a custom Optimizer must implement updateGroup(group) or override step()');
  }

  /** Adds a group `{ params, ...options }`; options it does not set take the optimizer's defaults. */
  addParamGroup(group: ParamGroupInput): void {
    if (!isPlainObject(group)) throw new TorchError(this.name, `a param group must be an object { params, ...options }, got ${(group as unknown) instanceof Tensor ? 'a Tensor mixed with groups' : typeof group}`);
    if (!('params' in group)) throw new TorchError(this.name, "a param group must have a 'params' entry");
    const raw = group.params;
    let params: Tensor[];
    if (raw instanceof Tensor) params = [raw];
    else if (raw instanceof Set) throw new TorchError(this.name, 'optimizer parameters need to be organized in ordered collections, but the ordering of tensors in sets will change between runs. Please use an array instead.');
    else if (isIterable(raw)) params = [...(raw as Iterable<Tensor>)];
    else throw new TorchError(this.name, `param group 'params' must be a Tensor or an iterable of Tensors, got ${typeof raw}`);
    for (const p of params) {
      if (!(p instanceof Tensor)) throw new TorchError(this.name, `optimizer can only optimize Tensors, but one of the params is ${p === null ? 'null' : typeof p}`);
      if (!p.isLeaf) throw new TorchError(this.name, "can't optimize a non-leaf Tensor; optimize the leaf it was computed from (or detach().requiresGrad_() a copy)");
    }
    const out = { params } as ParamGroup;
    for (const [k, v] of Object.entries(group)) {
      if (k === 'params') continue;
      const camel = snakeToCamel(k);
      if (camel !== k && camel in this.defaults)
        throw new TorchError(this.name, `unknown option '${k}' in a param group; options are camelCase here: use '${camel}'`);
      out[k] = Array.isArray(v) ? [...v] : v;
    }
    for (const [k, v] of Object.entries(this.defaults)) if (!(k in out) || out[k] === undefined) out[k] = Array.isArray(v) ? [...v] : v;
    if (new Set(params).size !== params.length)
      process.emitWarning(`${this.name}: a parameter group contains duplicate parameters; each will be updated more than once per step`);
    const seen = new Set<Tensor>();
    for (const g of this.paramGroups) for (const p of g.params) seen.add(p);
    if (params.some((p) => seen.has(p))) throw new TorchError(this.name, 'some parameters appear in more than one parameter group');
    this.validateGroup(out);
    this.paramGroups.push(out);
    this.initGroup(out);
  }

  /**
   * Clears the gradients of every parameter: sets them to null (the default, as PyTorch 2.x),
   * or zeroes them in place with `{ setToNone: false }`.
   */
  zeroGrad(opts: { setToNone?: boolean } | boolean = {}): void {
    const setToNone = typeof opts === 'boolean' ? opts : opts.setToNone ?? true;
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (!p.grad) continue;
        if (setToNone) { p.grad = null; continue; }
        if (p.grad.gradFn) p.grad.detach_(); else p.grad.requiresGrad_(false);
        p.grad.zero_();
      }
    }
  }

  /**
   * One update of every parameter that has a gradient. With a closure (which re-evaluates the
   * model, calls backward and returns the loss), runs it first with gradients enabled and
   * returns its loss.
   */
  step(closure?: StepClosure): Tensor | number | undefined {
    let loss: Tensor | number | undefined;
    if (closure !== undefined) {
      if (typeof closure !== 'function') throw new TorchError(`${this.name}.step`, `the closure must be a function, got ${typeof closure}`);
      const r = enableGrad(closure);
      loss = r === null || r === undefined ? undefined : r;
    }
    noGrad(() => { for (const g of this.paramGroups) this.updateGroup(g); });
    this._stepCount++;
    return loss;
  }

  /** The state entry of p, created empty on first use. */
  protected stateOf(p: Tensor): Record<string, any> {
    let s = this.state.get(p);
    if (!s) { s = {}; this.state.set(p, s); }
    return s;
  }

  /**
   * The optimizer's state in PyTorch's layout. Parameters are named by their position over all
   * groups; option and state names are snake_case; `step` is a 0-d float32 tensor as in
   * PyTorch 2.x. State tensors are the live ones (not copies), as in PyTorch.
   */
  stateDict(): OptimizerStateDict {
    const index = new Map<Tensor, number>();
    let next = 0;
    const groups = this.paramGroups.map((g) => {
      const packed: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(g)) if (k !== 'params') packed[camelToSnake(k)] = Array.isArray(v) ? [...v] : v;
      packed.params = g.params.map((p) => {
        let i = index.get(p);
        if (i === undefined) { i = next++; index.set(p, i); }
        return i;
      });
      return packed;
    });
    const state: Record<number, Record<string, unknown>> = {};
    for (const [p, s] of this.state) {
      const i = index.get(p);
      if (i === undefined) continue;
      const packed: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(s)) {
        if (v === undefined) continue;
        packed[camelToSnake(k)] = k === 'step' && typeof v === 'number' ? scalarTensor(v, 'float32', 'cpu') : v;
      }
      state[i] = packed;
    }
    return { state, param_groups: groups };
  }

  /**
   * Loads a state dict from `stateDict()` or from PyTorch (`torch.load` of an
   * `optimizer.state_dict()`): groups and their sizes must match; state tensors are copied and
   * cast to each parameter's dtype and device; `step` becomes a number.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const op = `${this.name}.loadStateDict`;
    if (!sd || typeof sd !== 'object' || !('param_groups' in sd) || !('state' in sd))
      throw new TorchError(op, "expected a state dict { state, param_groups } (as returned by stateDict() or PyTorch's optimizer.state_dict())");
    const saved = asArray(sd.param_groups) as Record<string, unknown>[];
    if (!Array.isArray(saved) || saved.length !== this.paramGroups.length)
      throw new TorchError(op, `loaded state dict has a different number of parameter groups (${Array.isArray(saved) ? saved.length : '?'} saved, ${this.paramGroups.length} here)`);
    const idMap = new Map<string, Tensor>();
    saved.forEach((sg, gi) => {
      const ids = asArray(sg.params) as unknown[];
      if (!Array.isArray(ids) || ids.length !== this.paramGroups[gi].params.length)
        throw new TorchError(op, `loaded state dict contains a parameter group (${gi}) that doesn't match the size of optimizer's group (${Array.isArray(ids) ? ids.length : '?'} saved, ${this.paramGroups[gi].params.length} here)`);
      ids.forEach((id, j) => idMap.set(String(id), this.paramGroups[gi].params[j]));
    });
    const state = new Map<Tensor, Record<string, any>>();
    const rawState = sd.state instanceof Map ? Object.fromEntries(sd.state) : sd.state;
    for (const [key, value] of Object.entries(rawState ?? {})) {
      const p = idMap.get(String(key));
      if (!p || !value || typeof value !== 'object') continue;
      const entry: Record<string, any> = {};
      const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
      for (const [k, v] of entries) {
        const name = snakeToCamel(String(k));
        if (name === 'step') entry.step = v instanceof Tensor ? v.item() : Number(v);
        else if (v instanceof Tensor) {
          let t = v.detach();
          if (isFloating(p.dtype) && isFloating(t.dtype) && t.dtype !== p.dtype) t = t.to(p.dtype);
          if (t.device !== p.device) t = t.to(p.device);
          entry[name] = t === v || t._storage === v._storage ? t.clone() : t;
        } else entry[name] = v === null ? undefined : asArray(v);
      }
      state.set(p, entry);
    }
    const groups: ParamGroup[] = saved.map((sg, gi) => {
      const g = { params: this.paramGroups[gi].params } as ParamGroup;
      for (const [k, v] of Object.entries(sg)) if (k !== 'params') g[snakeToCamel(k)] = asArray(v);
      for (const [k, v] of Object.entries(this.defaults)) if (!(k in g) || g[k] === undefined || g[k] === null) g[k] = Array.isArray(v) ? [...v] : v;
      this.validateGroup(g);
      return g;
    });
    this.state = state;
    this.paramGroups = groups;
    for (const g of groups) this.initGroup(g);
  }

  /** As PyTorch's repr: each group's options, sorted. */
  toString(): string {
    let s = `${this.name} (`;
    this.paramGroups.forEach((g, i) => {
      s += `\nParameter Group ${i}\n`;
      for (const k of Object.keys(g).filter((k) => k !== 'params').sort()) {
        const v = g[k];
        s += `    ${k}: ${Array.isArray(v) ? `(${v.join(', ')})` : String(v)}\n`;
      }
    });
    return `${s})`;
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string { return this.toString(); }
}

/** PyTorch implementation switches accepted (so ported code runs) and ignored: torchlet has one implementation. */
const PYTORCH_ONLY_OPTIONS = ['foreach', 'fused', 'capturable', 'differentiable'];

/**
 * The defaults an optimizer's constructor hands to Optimizer: each option as given, else the
 * optimizer's default. The option names are the keys of `defaults`, so the table that gives
 * the defaults is also the one that says which options exist; unknown names throw before any
 * default is filled in. Arrays (Adam's betas) are copied, so the caller's array or the shared
 * defaults table cannot change the optimizer afterwards.
 */
export function withDefaults<T extends object>(op: string, opts: T | undefined, defaults: Required<T>): Record<string, unknown> {
  checkOptionKeys(op, opts, Object.keys(defaults));
  const given = (opts ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, d] of Object.entries(defaults)) {
    const v = given[k] ?? d;
    out[k] = Array.isArray(v) || ArrayBuffer.isView(v) ? [...(v as Iterable<unknown>)] : v;
  }
  return out;
}

/**
 * The tensor-op path's update direction: the gradient, negated under `maximize`, plus
 * `weightDecay * p` (L2 penalty), in PyTorch's order. `own` is true when `d` is a temporary
 * of this step, which the caller disposes when done; false when it is the gradient itself.
 */
export function decayedGradient(p: Tensor, grad: Tensor, maximize: boolean, weightDecay: number): { d: Tensor; own: boolean } {
  let d = grad;
  let own = false;
  if (maximize) { d = d.neg(); own = true; }
  if (weightDecay !== 0) {
    const nd = d.add(p, { alpha: weightDecay });
    if (own) d.dispose();
    d = nd; own = true;
  }
  return { d, own };
}

/** Throws for constructor options the optimizer does not know (with a hint for snake_case names). */
export function checkOptionKeys(op: string, opts: object | undefined, allowed: readonly string[]): void {
  if (opts === undefined || opts === null) return;
  if (typeof opts !== 'object') throw new TorchError(op, `options must be an object, got ${typeof opts}`);
  for (const k of Object.keys(opts)) {
    if (allowed.includes(k) || PYTORCH_ONLY_OPTIONS.includes(k)) continue;
    const camel = snakeToCamel(k);
    const hint = camel !== k && allowed.includes(camel) ? `; options are camelCase here: use '${camel}'` : `; known options: ${allowed.join(', ')}`;
    throw new TorchError(op, `unknown option '${k}'${hint}`);
  }
}
