/**
 * torch.optim.lr_scheduler: StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR,
 * OneCycleLR, ReduceLROnPlateau, LambdaLR. Each uses PyTorch's recursive (chainable) form for step() and
 * its closed form for step(epoch), with the same floating point expressions, so learning rate
 * sequences equal PyTorch's.
 *
 * Schedulers write `lr` (and `initialLr`, OneCycleLR's `maxLr`, `minLr`, `maxMomentum`,
 * `baseMomentum`) into the optimizer's param groups, as PyTorch does. stateDict() uses
 * PyTorch's attribute names (`base_lrs`, `last_epoch`, `_step_count`, `_last_lr`, ...).
 */
import { Tensor } from '../tensor.js';
import { TorchError } from '../errors.js';
import { Optimizer } from './optimizer.js';

export type SchedulerStateDict = Record<string, unknown>;

/** Python's a % b (result has the sign of b). */
function pyMod(a: number, b: number): number {
  const r = a % b;
  return r !== 0 && (r < 0) !== (b < 0) ? r + b : r;
}
function checkOptimizer(name: string, optimizer: unknown): Optimizer {
  if (!(optimizer instanceof Optimizer)) throw new TorchError(name, `${optimizer === null ? 'null' : typeof optimizer === 'object' ? (optimizer as object).constructor?.name ?? 'object' : typeof optimizer} is not an Optimizer`);
  return optimizer;
}
function isObj(x: unknown): x is Record<string, any> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Tensor);
}

/** Base class (PyTorch's LRScheduler). Subclasses set their fields, then call `this.initialStep()`. */
export abstract class LRScheduler {
  readonly optimizer: Optimizer;
  baseLrs: number[];
  lastEpoch: number;
  verbose = false;
  /** @internal */ _stepCount = 0;
  /** @internal */ _lastLr: number[] = [];
  protected readonly name: string;

  constructor(optimizer: Optimizer, lastEpoch = -1, name?: string) {
    this.name = name ?? new.target.name;
    this.optimizer = checkOptimizer(this.name, optimizer);
    if (!Number.isInteger(lastEpoch) || lastEpoch < -1) throw new TorchError(this.name, `lastEpoch must be an integer >= -1, got ${lastEpoch}`);
    if (lastEpoch === -1) {
      for (const g of optimizer.paramGroups) if (g.initialLr === undefined) g.initialLr = g.lr;
    } else {
      optimizer.paramGroups.forEach((g, i) => {
        if (g.initialLr === undefined)
          throw new TorchError(this.name, `param 'initialLr' is not specified in paramGroups[${i}] when resuming an optimizer (lastEpoch=${lastEpoch}); create the scheduler with lastEpoch=-1 first, or load its stateDict`);
      });
    }
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr as number);
    this.lastEpoch = lastEpoch;
  }

  /** The first step (done by the constructor, as PyTorch's `_initial_step`). */
  protected initialStep(): void {
    this._stepCount = 0;
    this.step();
  }

  /** The learning rates for the current `lastEpoch`, computed from the groups' current lrs (chainable form). */
  abstract getLr(): number[];
  /** The closed form for `lastEpoch`, used by `step(epoch)` where a scheduler has one. */
  protected closedFormLr?(): number[];

  /** Advances one epoch (or jumps to `epoch`, deprecated in PyTorch, using the closed form) and sets the groups' lrs. */
  step(epoch?: number): void {
    this._stepCount += 1;
    let values: number[];
    if (epoch === undefined) {
      this.lastEpoch += 1;
      values = this.getLr();
    } else {
      if (typeof epoch !== 'number' || !Number.isFinite(epoch)) throw new TorchError(`${this.name}.step`, `epoch must be a number, got ${String(epoch)}`);
      this.lastEpoch = epoch;
      values = this.closedFormLr ? this.closedFormLr() : this.getLr();
    }
    const groups = this.optimizer.paramGroups;
    for (let i = 0; i < groups.length && i < values.length; i++) {
      groups[i].lr = values[i];
      if (this.verbose) console.log(`Adjusting learning rate of group ${i} to ${values[i].toExponential(4)}.`);
    }
    this._lastLr = groups.map((g) => g.lr);
  }

  /** The learning rates the last step() set, one per group. */
  getLastLr(): number[] { return [...this._lastLr]; }

  /** Fields saved besides the common ones: [property, PyTorch's key]. */
  protected extraKeys(): [string, string][] { return []; }

  /** The scheduler's state under PyTorch's attribute names (everything except the optimizer). */
  stateDict(): SchedulerStateDict {
    const sd: SchedulerStateDict = {
      base_lrs: [...this.baseLrs],
      last_epoch: this.lastEpoch,
      verbose: this.verbose,
      _step_count: this._stepCount,
      _get_lr_called_within_step: false,
      _last_lr: [...this._lastLr],
    };
    for (const [prop, key] of this.extraKeys()) sd[key] = this.saveValue(prop);
    return sd;
  }
  /** Restores from stateDict() (or PyTorch's scheduler.state_dict()); unknown keys are ignored. */
  loadStateDict(sd: SchedulerStateDict): void {
    if (!isObj(sd)) throw new TorchError(`${this.name}.loadStateDict`, 'expected a state dict object');
    if (sd.base_lrs !== undefined) this.baseLrs = [...(sd.base_lrs as number[])];
    if (sd.last_epoch !== undefined) this.lastEpoch = Number(sd.last_epoch);
    if (sd.verbose !== undefined) this.verbose = !!sd.verbose;
    if (sd._step_count !== undefined) this._stepCount = Number(sd._step_count);
    if (sd._last_lr !== undefined) this._lastLr = [...(sd._last_lr as number[])];
    for (const [prop, key] of this.extraKeys()) if (sd[key] !== undefined) this.loadValue(prop, sd[key]);
  }
  protected saveValue(prop: string): unknown {
    const v = (this as any)[prop];
    return Array.isArray(v) ? [...v] : v;
  }
  protected loadValue(prop: string, v: unknown): void {
    (this as any)[prop] = Array.isArray(v) ? [...v] : v;
  }
}

// ---------------------------------------------------------------------------------------------

function positiveInt(name: string, what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new TorchError(name, `${what} must be a positive integer, got ${String(v)}`);
  return v;
}
function finiteNum(name: string, what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TorchError(name, `${what} must be a finite number, got ${String(v)}`);
  return v;
}

export interface LambdaLROptions { lastEpoch?: number }
/** Sets each group's lr to its initial lr times lrLambda(epoch) (one function, or one per group). */
export class LambdaLR extends LRScheduler {
  lrLambdas: ((epoch: number) => number)[];
  constructor(optimizer: Optimizer, lrLambda: ((epoch: number) => number) | ((epoch: number) => number)[], opts: LambdaLROptions = {}) {
    super(optimizer, opts.lastEpoch ?? -1, 'LambdaLR');
    const n = optimizer.paramGroups.length;
    const fns = Array.isArray(lrLambda) ? [...lrLambda] : Array.from({ length: n }, () => lrLambda);
    if (fns.length !== n) throw new TorchError('LambdaLR', `Expected ${n} lrLambdas, but got ${fns.length}`);
    if (fns.some((f) => typeof f !== 'function')) throw new TorchError('LambdaLR', 'lrLambda must be a function (epoch) => factor, or an array of them');
    this.lrLambdas = fns;
    this.initialStep();
  }
  getLr(): number[] { return this.baseLrs.map((b, i) => b * this.lrLambdas[i](this.lastEpoch)); }
}

export interface StepLROptions { stepSize?: number; gamma?: number; lastEpoch?: number }
/** Multiplies each group's lr by gamma every stepSize epochs. `StepLR(opt, stepSize, { gamma? })` or `StepLR(opt, { stepSize, gamma? })`. */
export class StepLR extends LRScheduler {
  stepSize: number;
  gamma: number;
  constructor(optimizer: Optimizer, stepSize: number | StepLROptions, opts: StepLROptions = {}) {
    const o = isObj(stepSize) ? stepSize : { ...opts, stepSize };
    super(optimizer, o.lastEpoch ?? -1, 'StepLR');
    this.stepSize = positiveInt('StepLR', 'stepSize', o.stepSize);
    this.gamma = finiteNum('StepLR', 'gamma', o.gamma ?? 0.1);
    this.initialStep();
  }
  getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    if (this.lastEpoch === 0 || pyMod(this.lastEpoch, this.stepSize) !== 0) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma);
  }
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** Math.floor(this.lastEpoch / this.stepSize));
  }
  protected override extraKeys(): [string, string][] { return [['stepSize', 'step_size'], ['gamma', 'gamma']]; }
}

export interface MultiStepLROptions { milestones?: number[]; gamma?: number; lastEpoch?: number }
/** Multiplies each group's lr by gamma at each milestone (a milestone listed twice applies gamma twice). */
export class MultiStepLR extends LRScheduler {
  /** milestone -> how many times it was listed (PyTorch's Counter) */
  milestones: Map<number, number>;
  gamma: number;
  constructor(optimizer: Optimizer, milestones: number[] | MultiStepLROptions, opts: MultiStepLROptions = {}) {
    const o = isObj(milestones) && !Array.isArray(milestones) ? milestones as MultiStepLROptions : { ...opts, milestones: milestones as number[] };
    super(optimizer, o.lastEpoch ?? -1, 'MultiStepLR');
    if (!Array.isArray(o.milestones) || o.milestones.some((m) => !Number.isInteger(m)))
      throw new TorchError('MultiStepLR', `milestones must be an array of integers, got ${String(o.milestones)}`);
    this.milestones = new Map();
    for (const m of o.milestones) this.milestones.set(m, (this.milestones.get(m) ?? 0) + 1);
    this.gamma = finiteNum('MultiStepLR', 'gamma', o.gamma ?? 0.1);
    this.initialStep();
  }
  getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    const count = this.milestones.get(this.lastEpoch);
    if (count === undefined) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma ** count);
  }
  protected override closedFormLr(): number[] {
    let passed = 0;
    for (const [m, c] of this.milestones) if (m <= this.lastEpoch) passed += c;
    return this.baseLrs.map((b) => b * this.gamma ** passed);
  }
  protected override extraKeys(): [string, string][] { return [['milestones', 'milestones'], ['gamma', 'gamma']]; }
  protected override saveValue(prop: string): unknown {
    if (prop === 'milestones') return Object.fromEntries([...this.milestones].sort((a, b) => a[0] - b[0]));
    return super.saveValue(prop);
  }
  protected override loadValue(prop: string, v: unknown): void {
    if (prop !== 'milestones') return super.loadValue(prop, v);
    const entries: [unknown, unknown][] = v instanceof Map ? [...v.entries()] : Array.isArray(v) ? v.map((m) => [m, 1]) : Object.entries(v as object);
    this.milestones = new Map();
    for (const [m, c] of entries) this.milestones.set(Number(m), (this.milestones.get(Number(m)) ?? 0) + Number(c));
  }
}

export interface ExponentialLROptions { gamma?: number; lastEpoch?: number }
/** Multiplies each group's lr by gamma every epoch. */
export class ExponentialLR extends LRScheduler {
  gamma: number;
  constructor(optimizer: Optimizer, gamma: number | ExponentialLROptions, opts: ExponentialLROptions = {}) {
    const o = isObj(gamma) ? gamma : { ...opts, gamma };
    super(optimizer, o.lastEpoch ?? -1, 'ExponentialLR');
    this.gamma = finiteNum('ExponentialLR', 'gamma', o.gamma);
    this.initialStep();
  }
  getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    if (this.lastEpoch === 0) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma);
  }
  protected override closedFormLr(): number[] { return this.baseLrs.map((b) => b * this.gamma ** this.lastEpoch); }
  protected override extraKeys(): [string, string][] { return [['gamma', 'gamma']]; }
}

export interface CosineAnnealingLROptions { TMax?: number; etaMin?: number; lastEpoch?: number }
/** Cosine annealing from each group's initial lr down to etaMin over TMax epochs (SGDR without restarts). */
export class CosineAnnealingLR extends LRScheduler {
  TMax: number;
  etaMin: number;
  constructor(optimizer: Optimizer, TMax: number | CosineAnnealingLROptions, opts: CosineAnnealingLROptions = {}) {
    const o = isObj(TMax) ? TMax : { ...opts, TMax };
    super(optimizer, o.lastEpoch ?? -1, 'CosineAnnealingLR');
    this.TMax = positiveInt('CosineAnnealingLR', 'TMax', o.TMax);
    this.etaMin = finiteNum('CosineAnnealingLR', 'etaMin', o.etaMin ?? 0);
    this.initialStep();
  }
  getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    const e = this.lastEpoch, T = this.TMax, etaMin = this.etaMin;
    if (e === 0) return groups.map((g) => g.lr);
    if (this._stepCount === 1 && e > 0)
      return this.baseLrs.map((b) => etaMin + (b - etaMin) * (1 + Math.cos((e * Math.PI) / T)) / 2);
    if (pyMod(e - 1 - T, 2 * T) === 0)
      return groups.map((g, i) => g.lr + (this.baseLrs[i] - etaMin) * (1 - Math.cos(Math.PI / T)) / 2);
    return groups.map((g) => (1 + Math.cos((Math.PI * e) / T)) / (1 + Math.cos((Math.PI * (e - 1)) / T)) * (g.lr - etaMin) + etaMin);
  }
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => this.etaMin + (b - this.etaMin) * (1 + Math.cos((Math.PI * this.lastEpoch) / this.TMax)) / 2);
  }
  protected override extraKeys(): [string, string][] { return [['TMax', 'T_max'], ['etaMin', 'eta_min']]; }
}

export interface LinearLROptions { startFactor?: number; endFactor?: number; totalIters?: number; lastEpoch?: number }
/** Scales each group's lr by a factor going linearly from startFactor to endFactor over totalIters epochs. */
export class LinearLR extends LRScheduler {
  startFactor: number;
  endFactor: number;
  totalIters: number;
  constructor(optimizer: Optimizer, opts: LinearLROptions = {}) {
    super(optimizer, opts.lastEpoch ?? -1, 'LinearLR');
    const start = opts.startFactor ?? 1 / 3, end = opts.endFactor ?? 1;
    if (typeof start !== 'number' || !(start > 0 && start <= 1))
      throw new TorchError('LinearLR', `Starting multiplicative factor expected to be greater than 0 and less or equal to 1, got startFactor=${start}`);
    if (typeof end !== 'number' || !(end >= 0 && end <= 1))
      throw new TorchError('LinearLR', `Ending multiplicative factor expected to be between 0 and 1, got endFactor=${end}`);
    this.startFactor = start;
    this.endFactor = end;
    this.totalIters = positiveInt('LinearLR', 'totalIters', opts.totalIters ?? 5);
    this.initialStep();
  }
  getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    const e = this.lastEpoch, s = this.startFactor, f = this.endFactor, n = this.totalIters;
    if (e === 0) return groups.map((g) => g.lr * s);
    if (e > n) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * (1 + (f - s) / (n * s + (e - 1) * (f - s))));
  }
  protected override closedFormLr(): number[] {
    const s = this.startFactor, f = this.endFactor, n = this.totalIters;
    return this.baseLrs.map((b) => b * (s + (f - s) * Math.min(n, this.lastEpoch) / n));
  }
  protected override extraKeys(): [string, string][] {
    return [['startFactor', 'start_factor'], ['endFactor', 'end_factor'], ['totalIters', 'total_iters']];
  }
}

export interface OneCycleLROptions {
  maxLr?: number | number[];
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  cycleMomentum?: boolean;
  baseMomentum?: number | number[];
  maxMomentum?: number | number[];
  divFactor?: number;
  finalDivFactor?: number;
  threePhase?: boolean;
  lastEpoch?: number;
}
interface Phase { endStep: number; startLr: string; endLr: string; startMomentum: string; endMomentum: string }

/**
 * The 1cycle policy: lr rises from maxLr/divFactor to maxLr over pctStart of totalSteps, then
 * anneals to initialLr/finalDivFactor ('cos' or 'linear'); momentum (or Adam's beta1) cycles
 * inversely between maxMomentum and baseMomentum. Step it after every batch.
 */
export class OneCycleLR extends LRScheduler {
  totalSteps: number;
  annealStrategy: 'cos' | 'linear';
  cycleMomentum: boolean;
  useBeta1 = false;
  /** @internal */ _schedulePhases: Phase[];

  constructor(optimizer: Optimizer, maxLr: number | number[] | OneCycleLROptions, opts: OneCycleLROptions = {}) {
    const o: OneCycleLROptions = isObj(maxLr) && !Array.isArray(maxLr) ? maxLr as OneCycleLROptions : { ...opts, maxLr: maxLr as number | number[] };
    const N = 'OneCycleLR';
    const opt = checkOptimizer(N, optimizer);
    let total: number;
    if (o.totalSteps === undefined && o.epochs === undefined && o.stepsPerEpoch === undefined)
      throw new TorchError(N, 'You must define either totalSteps OR (epochs AND stepsPerEpoch)');
    if (o.totalSteps !== undefined) {
      if (!Number.isInteger(o.totalSteps) || o.totalSteps <= 0) throw new TorchError(N, `Expected positive integer totalSteps, but got ${o.totalSteps}`);
      total = o.totalSteps;
    } else {
      if (!Number.isInteger(o.epochs) || (o.epochs as number) <= 0) throw new TorchError(N, `Expected positive integer epochs, but got ${o.epochs}`);
      if (!Number.isInteger(o.stepsPerEpoch) || (o.stepsPerEpoch as number) <= 0) throw new TorchError(N, `Expected positive integer stepsPerEpoch, but got ${o.stepsPerEpoch}`);
      total = (o.epochs as number) * (o.stepsPerEpoch as number);
    }
    const pct = o.pctStart ?? 0.3;
    if (typeof pct !== 'number' || !(pct >= 0 && pct <= 1)) throw new TorchError(N, `Expected float between 0 and 1 pctStart, but got ${pct}`);
    const anneal = o.annealStrategy ?? 'cos';
    if (anneal !== 'cos' && anneal !== 'linear') throw new TorchError(N, `annealStrategy must be one of 'cos' or 'linear', instead got ${String(anneal)}`);
    const lastEpoch = o.lastEpoch ?? -1;
    const groups = opt.paramGroups;
    const fmt = (what: string, v: number | number[] | undefined, dflt: number): number[] => {
      const x = v ?? dflt;
      if (Array.isArray(x)) {
        if (x.length !== groups.length) throw new TorchError(N, `expected ${groups.length} values for ${what}, got ${x.length}`);
        return [...x];
      }
      if (typeof x !== 'number') throw new TorchError(N, `${what} must be a number or an array of numbers (one per group), got ${String(x)}`);
      return groups.map(() => x);
    };
    if (o.maxLr === undefined) throw new TorchError(N, 'maxLr is required');
    const maxLrs = fmt('maxLr', o.maxLr, 0);
    const divFactor = o.divFactor ?? 25, finalDivFactor = o.finalDivFactor ?? 1e4;
    if (lastEpoch === -1) {
      groups.forEach((g, i) => {
        g.initialLr = maxLrs[i] / divFactor;
        g.maxLr = maxLrs[i];
        g.minLr = g.initialLr / finalDivFactor;
      });
    }
    const cycle = o.cycleMomentum ?? true;
    let useBeta1 = false;
    if (cycle) {
      if (!('momentum' in opt.defaults) && !('betas' in opt.defaults))
        throw new TorchError(N, 'optimizer must support momentum or betas with the cycleMomentum option enabled (pass cycleMomentum: false)');
      useBeta1 = 'betas' in opt.defaults;
      const maxM = fmt('maxMomentum', o.maxMomentum, 0.95), baseM = fmt('baseMomentum', o.baseMomentum, 0.85);
      if (lastEpoch === -1) {
        groups.forEach((g, i) => {
          if (useBeta1) g.betas = [maxM[i], ...(g.betas as number[]).slice(1)];
          else g.momentum = maxM[i];
          g.maxMomentum = maxM[i];
          g.baseMomentum = baseM[i];
        });
      }
    }
    super(opt, lastEpoch, N);
    this.totalSteps = total;
    this.annealStrategy = anneal;
    this.cycleMomentum = cycle;
    this.useBeta1 = useBeta1;
    this._schedulePhases = o.threePhase
      ? [
        { endStep: pct * total - 1, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
        { endStep: 2 * pct * total - 2, startLr: 'maxLr', endLr: 'initialLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
        { endStep: total - 1, startLr: 'initialLr', endLr: 'minLr', startMomentum: 'maxMomentum', endMomentum: 'maxMomentum' },
      ]
      : [
        { endStep: pct * total - 1, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
        { endStep: total - 1, startLr: 'maxLr', endLr: 'minLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
      ];
    this.initialStep();
  }

  private anneal(start: number, end: number, pct: number): number {
    if (this.annealStrategy === 'cos') {
      const cosOut = Math.cos(Math.PI * pct) + 1;
      return end + (start - end) / 2.0 * cosOut;
    }
    return (end - start) * pct + start;
  }

  getLr(): number[] {
    const stepNum = this.lastEpoch;
    if (stepNum > this.totalSteps)
      throw new TorchError('OneCycleLR', `Tried to step ${stepNum + 1} times. The specified number of total steps is ${this.totalSteps}`);
    const phases = this._schedulePhases;
    return this.optimizer.paramGroups.map((g) => {
      let startStep = 0;
      let lr = 0, momentum = 0;
      for (let i = 0; i < phases.length; i++) {
        const ph = phases[i];
        const endStep = ph.endStep;
        if (stepNum <= endStep || i === phases.length - 1) {
          const pct = (stepNum - startStep) / (endStep - startStep);
          lr = this.anneal(g[ph.startLr], g[ph.endLr], pct);
          if (this.cycleMomentum) momentum = this.anneal(g[ph.startMomentum], g[ph.endMomentum], pct);
          break;
        }
        startStep = ph.endStep;
      }
      if (this.cycleMomentum) {
        if (this.useBeta1) g.betas = [momentum, ...(g.betas as number[]).slice(1)];
        else g.momentum = momentum;
      }
      return lr;
    });
  }

  protected override extraKeys(): [string, string][] {
    return [['totalSteps', 'total_steps'], ['_schedulePhases', '_schedule_phases'], ['annealStrategy', '_anneal_func_type'],
      ['cycleMomentum', 'cycle_momentum'], ['useBeta1', 'use_beta1']];
  }
  protected override saveValue(prop: string): unknown {
    if (prop !== '_schedulePhases') return super.saveValue(prop);
    const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    return this._schedulePhases.map((p) => ({
      end_step: p.endStep, start_lr: snake(p.startLr), end_lr: snake(p.endLr), start_momentum: snake(p.startMomentum), end_momentum: snake(p.endMomentum),
    }));
  }
  protected override loadValue(prop: string, v: unknown): void {
    if (prop !== '_schedulePhases') return super.loadValue(prop, v);
    const camel = (k: string) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    this._schedulePhases = (v as Record<string, any>[]).map((p) => ({
      endStep: Number(p.end_step), startLr: camel(p.start_lr), endLr: camel(p.end_lr), startMomentum: camel(p.start_momentum), endMomentum: camel(p.end_momentum),
    }));
  }
}

export interface ReduceLROnPlateauOptions {
  mode?: 'min' | 'max';
  factor?: number;
  patience?: number;
  threshold?: number;
  thresholdMode?: 'rel' | 'abs';
  cooldown?: number;
  minLr?: number | number[];
  eps?: number;
}

/**
 * Reduces each group's lr by `factor` when a metric has stopped improving for more than
 * `patience` epochs: `scheduler.step(valLoss)`.
 */
export class ReduceLROnPlateau {
  readonly optimizer: Optimizer;
  factor: number;
  minLrs: number[];
  patience: number;
  cooldown: number;
  cooldownCounter = 0;
  mode: 'min' | 'max';
  threshold: number;
  thresholdMode: 'rel' | 'abs';
  best = Infinity;
  numBadEpochs = 0;
  modeWorse = Infinity;
  eps: number;
  lastEpoch = 0;
  verbose = false;
  /** @internal */ _lastLr: number[];

  constructor(optimizer: Optimizer, opts: ReduceLROnPlateauOptions = {}) {
    const N = 'ReduceLROnPlateau';
    this.optimizer = checkOptimizer(N, optimizer);
    const factor = opts.factor ?? 0.1;
    if (typeof factor !== 'number' || !(factor < 1)) throw new TorchError(N, `Factor should be < 1.0, got ${factor}`);
    this.factor = factor;
    const minLr = opts.minLr ?? 0;
    if (Array.isArray(minLr)) {
      if (minLr.length !== optimizer.paramGroups.length) throw new TorchError(N, `expected ${optimizer.paramGroups.length} minLrs, got ${minLr.length}`);
      this.minLrs = [...minLr];
    } else this.minLrs = optimizer.paramGroups.map(() => minLr);
    this.patience = opts.patience ?? 10;
    if (!Number.isInteger(this.patience) || this.patience < 0) throw new TorchError(N, `patience must be an integer >= 0, got ${this.patience}`);
    this.cooldown = opts.cooldown ?? 0;
    this.eps = opts.eps ?? 1e-8;
    this.mode = opts.mode ?? 'min';
    this.threshold = opts.threshold ?? 1e-4;
    this.thresholdMode = opts.thresholdMode ?? 'rel';
    this.initIsBetter();
    this.reset();
    this._lastLr = optimizer.paramGroups.map((g) => g.lr);
  }

  private initIsBetter(): void {
    if (this.mode !== 'min' && this.mode !== 'max') throw new TorchError('ReduceLROnPlateau', `mode ${String(this.mode)} is unknown! (use 'min' or 'max')`);
    if (this.thresholdMode !== 'rel' && this.thresholdMode !== 'abs') throw new TorchError('ReduceLROnPlateau', `threshold mode ${String(this.thresholdMode)} is unknown! (use 'rel' or 'abs')`);
    this.modeWorse = this.mode === 'min' ? Infinity : -Infinity;
  }
  private reset(): void {
    this.best = this.modeWorse;
    this.cooldownCounter = 0;
    this.numBadEpochs = 0;
  }
  get inCooldown(): boolean { return this.cooldownCounter > 0; }
  isBetter(a: number, best: number): boolean {
    if (this.mode === 'min' && this.thresholdMode === 'rel') return a < best * (1 - this.threshold);
    if (this.mode === 'min') return a < best - this.threshold;
    if (this.thresholdMode === 'rel') return a > best * (this.threshold + 1);
    return a > best + this.threshold;
  }

  /** Feeds one epoch's metric (a number or a one-element tensor). */
  step(metric: number | Tensor, epoch?: number): void {
    const current = metric instanceof Tensor ? metric.item() : Number(metric);
    this.lastEpoch = epoch === undefined ? this.lastEpoch + 1 : epoch;
    if (this.isBetter(current, this.best)) {
      this.best = current;
      this.numBadEpochs = 0;
    } else this.numBadEpochs += 1;
    if (this.inCooldown) {
      this.cooldownCounter -= 1;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.patience) {
      this.reduceLr();
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this._lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }
  private reduceLr(): void {
    this.optimizer.paramGroups.forEach((g, i) => {
      const oldLr = Number(g.lr);
      const newLr = Math.max(oldLr * this.factor, this.minLrs[i]);
      if (oldLr - newLr > this.eps) {
        g.lr = newLr;
        if (this.verbose) console.log(`Epoch ${this.lastEpoch}: reducing learning rate of group ${i} to ${newLr.toExponential(4)}.`);
      }
    });
  }
  getLastLr(): number[] { return [...this._lastLr]; }

  private static readonly KEYS: [string, string][] = [
    ['factor', 'factor'], ['minLrs', 'min_lrs'], ['patience', 'patience'], ['verbose', 'verbose'], ['cooldown', 'cooldown'],
    ['cooldownCounter', 'cooldown_counter'], ['mode', 'mode'], ['threshold', 'threshold'], ['thresholdMode', 'threshold_mode'],
    ['best', 'best'], ['numBadEpochs', 'num_bad_epochs'], ['modeWorse', 'mode_worse'], ['eps', 'eps'], ['lastEpoch', 'last_epoch'],
    ['_lastLr', '_last_lr'],
  ];
  stateDict(): SchedulerStateDict {
    const sd: SchedulerStateDict = {};
    for (const [prop, key] of ReduceLROnPlateau.KEYS) { const v = (this as any)[prop]; sd[key] = Array.isArray(v) ? [...v] : v; }
    return sd;
  }
  loadStateDict(sd: SchedulerStateDict): void {
    if (!isObj(sd)) throw new TorchError('ReduceLROnPlateau.loadStateDict', 'expected a state dict object');
    for (const [prop, key] of ReduceLROnPlateau.KEYS) if (sd[key] !== undefined) { const v = sd[key]; (this as any)[prop] = Array.isArray(v) ? [...v] : v; }
    this.initIsBetter();
  }
}
