/** Elementwise ops: each declared once with its dtype rule and derivative. */
import { Tensor, type TensorLike } from '../tensor.js';
import {
  defineOp, apply, empty_, unaryRaw, binaryRaw, ternaryRaw, castRaw, commonDevice, promote, scalarTensor,
  floatOrDefault, isFloating, toDeviceRaw, named, type OpSpec,
} from './core.js';
import { isGradEnabled } from '../autograd/grad_mode.js';
import { type DType } from '../dtype.js';
import { getBackend } from '../device/registry.js';
import { DTypeError, TorchError } from '../errors.js';
import type { UnaryOp, BinaryOp } from '../device/kernels.js';

// ---------------- conversion (differentiable) ----------------

const castSpec: OpSpec<[DType]> = {
  name: 'to',
  forward: ([x], dt) => castRaw(x, dt),
  backward: (g) => [g], // the engine casts the gradient back to the input's dtype
  save: () => ({}),
};
const moveSpec: OpSpec<[string]> = {
  name: 'to',
  forward: ([x], dev) => toDeviceRaw(x, dev),
  backward: (g, c) => [toDevice(g, c.inputs[0].device)],
  save: () => ({}),
};
export function toDtype(x: Tensor, dt: DType): Tensor {
  if (x.dtype === dt) return x;
  if (x._requiresGrad && !isFloating(dt)) return castRaw(x, dt); // no gradient flows into integer results
  return apply(castSpec, [x], dt);
}
export function toDevice(x: Tensor, dev: string): Tensor {
  if (getBackend(dev, 'to') === x._backend) return x;
  return apply(moveSpec, [x], dev);
}

/** Brings an operand to dtype on device, differentiably. */
export function operandOf(x: TensorLike, dt: DType, dev: string): Tensor {
  if (x instanceof Tensor) return toDtype(x.device === dev ? x : toDevice(x, dev), dt);
  return scalarTensor(x, dt, dev);
}

const needFloat = (name: string, t: Tensor): Tensor => {
  if (!(t instanceof Tensor)) throw new TorchError(name, `expected a Tensor, got ${typeof t}`);
  return isFloating(t.dtype) ? t : toDtype(t, floatOrDefault(t.dtype));
};
const checkTensor = (name: string, t: unknown): Tensor => {
  if (!(t instanceof Tensor)) throw new TorchError(name, `expected a Tensor as input, got ${t === null ? 'null' : typeof t}`);
  return t;
};

// ---------------- unary ----------------

type UGrad = (g: Tensor, x: Tensor, out: Tensor) => Tensor | null;
function unary(op: UnaryOp, o: { float?: boolean; grad?: UGrad; saves?: 'x' | 'out' | 'both' | 'none' }): (x: Tensor) => Tensor {
  const saves = o.saves ?? 'x';
  const spec: OpSpec<[]> = {
    name: op,
    forward: ([x]) => unaryRaw(op, x),
    backward: o.grad ? (g, c) => [o.grad!(g, c.inputs[0], c.out)] : undefined,
    save: () => ({ inputs: saves === 'x' || saves === 'both' ? [0] : [], output: saves === 'out' || saves === 'both' }),
  };
  return (x: Tensor) => {
    const t = o.float ? needFloat(op, x) : checkTensor(op, x);
    return apply(spec, [t]);
  };
}

/** The fused backward kernel when no double-backward graph is needed, else the composite. */
function fusedGrad(kernel: BinaryOp, composite: (g: Tensor, s: Tensor) => Tensor) {
  return (g: Tensor, s: Tensor): Tensor => (isGradEnabled() ? composite(g, s) : binaryRaw(kernel, g, castRaw(s, g.dtype)));
}

const zeroGrad: UGrad = (g) => mul(g, 0);
const negRaw = unary('neg', { grad: (g) => neg(g), saves: 'none' });
/** -x (bool tensors are refused, as PyTorch: use logicalNot). */
export function neg(x: Tensor): Tensor {
  if (x instanceof Tensor && x.dtype === 'bool') throw new DTypeError('neg', 'negation of a bool tensor is not supported; to invert a mask use logicalNot()');
  return negRaw(x);
}
export const abs = unary('abs', { grad: (g, x) => mul(g, sign(x)) });
export const sign = unary('sign', { grad: zeroGrad, saves: 'none' });
export const exp = unary('exp', { float: true, grad: (g, _x, y) => mul(g, y), saves: 'out' });
export const log = unary('log', { float: true, grad: (g, x) => div(g, x) });
export const log1p = unary('log1p', { float: true, grad: (g, x) => div(g, add(x, 1)) });
export const expm1 = unary('expm1', { float: true, grad: (g, _x, y) => mul(g, add(y, 1)), saves: 'out' });
export const sqrt = unary('sqrt', { float: true, grad: (g, _x, y) => div(g, mul(y, 2)), saves: 'out' });
export const rsqrt = unary('rsqrt', { float: true, grad: (g, _x, y) => mul(mul(g, pow(y, 3)), -0.5), saves: 'out' });
export const sin = unary('sin', { float: true, grad: (g, x) => mul(g, cos(x)) });
export const cos = unary('cos', { float: true, grad: (g, x) => neg(mul(g, sin(x))) });
const tanhGrad = fusedGrad('tanhBackward', (g, y) => mul(g, sub(1, mul(y, y))));
export const tanh = unary('tanh', { float: true, grad: (g, _x, y) => tanhGrad(g, y), saves: 'out' });
const sigmoidGrad = fusedGrad('sigmoidBackward', (g, y) => mul(g, mul(y, sub(1, y))));
export const sigmoid = unary('sigmoid', { float: true, grad: (g, _x, y) => sigmoidGrad(g, y), saves: 'out' });
// as PyTorch's threshold_backward: zero where x <= 0, so a NaN input passes the gradient
const reluGrad = fusedGrad('reluBackward', (g, x) => where(le(x, 0), 0, g));
export const relu = unary('relu', { grad: (g, x) => reluGrad(g, x) });
const geluGrad = fusedGrad('geluBackward', (g, x) => {
  const cdf = mul(add(erf(mul(x, Math.SQRT1_2)), 1), 0.5);
  const pdf = mul(exp(mul(mul(x, x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
  return mul(g, add(cdf, mul(x, pdf)));
});
const geluExact = unary('gelu', { float: true, grad: (g, x) => geluGrad(g, x) });
const siluGrad = fusedGrad('siluBackward', (g, x) => {
  const s = sigmoid(x);
  return mul(g, mul(s, add(mul(x, sub(1, s)), 1)));
});
export const silu = unary('silu', { float: true, grad: (g, x) => siluGrad(g, x) });
const softplusGrad = fusedGrad('softplusBackward', (g, x) => mul(g, where(gt(x, 20), 1, sigmoid(x))));
const softplusDefault = unary('softplus', { float: true, grad: (g, x) => softplusGrad(g, x) });
export const erf = unary('erf', { float: true, grad: (g, x) => mul(g, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI))) });
const roundLike = (op: UnaryOp) => {
  const f = unary(op, { grad: zeroGrad, saves: 'none' });
  return (x: Tensor) => (isFloating(checkTensor(op, x).dtype) ? f(x) : clone(x));
};
export const floor = roundLike('floor');
export const ceil = roundLike('ceil');
export const round = roundLike('round');
export const trunc = roundLike('trunc');
export const reciprocal = unary('reciprocal', { float: true, grad: (g, _x, y) => neg(mul(g, mul(y, y))), saves: 'out' });
export const square = unary('square', { grad: (g, x) => mul(g, mul(x, 2)) });
export const logicalNot = unary('logicalNot', {});
export const isnan = unary('isnan', {});
export const isfinite = unary('isfinite', {});

export function gelu(x: Tensor, opts: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  if ((opts.approximate ?? 'none') === 'none') return geluExact(x);
  if (opts.approximate !== 'tanh') throw new TorchError('gelu', `approximate must be 'none' or 'tanh', got '${opts.approximate}'`);
  const xf = needFloat('gelu', x);
  const inner = mul(add(xf, mul(pow(xf, 3), 0.044715)), Math.sqrt(2 / Math.PI));
  return mul(mul(xf, 0.5), add(tanh(inner), 1));
}
export function softplus(x: Tensor, opts: { beta?: number; threshold?: number } = {}): Tensor {
  const beta = opts.beta ?? 1, threshold = opts.threshold ?? 20;
  if (beta === 1 && threshold === 20) return softplusDefault(x);
  const xf = needFloat('softplus', x);
  const bx = mul(xf, beta);
  return where(gt(bx, threshold), xf, div(log1p(exp(bx)), beta));
}

// ---------------- binary ----------------

type BGrad = (g: Tensor, a: Tensor, b: Tensor, out: Tensor, args: any[]) => (Tensor | null)[];
function binarySpec(op: BinaryOp, grad: BGrad | undefined, saves: (needs: boolean[]) => { inputs?: number[]; output?: boolean }): OpSpec<any[]> {
  return {
    name: op,
    forward: ([a, b]) => binaryRaw(op, a, b),
    backward: grad ? (g, c) => grad(g, c.inputs[0], c.inputs[1], c.out, c.args) : undefined,
    save: saves,
  };
}
/** Converts operands to a common device and the promoted dtype. */
function operands(name: string, a: TensorLike, b: TensorLike, dtypeRule?: (d: DType) => DType): [Tensor, Tensor] {
  // fast path: two tensors of one dtype on one device need no conversion
  if (a instanceof Tensor && b instanceof Tensor && a._storage.backend === b._storage.backend) {
    const d = a._storage.dtype;
    if (d === b._storage.dtype && (dtypeRule === undefined || dtypeRule(d) === d)) return [a, b];
  }
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) throw new TorchError(name, 'expected at least one Tensor operand');
  const dev = commonDevice(name, [a, b]);
  let dt = promote([a, b]);
  if (dtypeRule) dt = dtypeRule(dt);
  return [operandOf(a, dt, dev), operandOf(b, dt, dev)];
}
const saveBoth = () => ({ inputs: [0, 1] });
const saveNone = () => ({});
const saveCross = (needs: boolean[]) => ({ inputs: [...(needs[1] ? [0] : []), ...(needs[0] ? [1] : [])] });

const addSpec = binarySpec('add', (g) => [g, g], saveNone);
const subSpec = binarySpec('sub', (g) => [g, neg(g)], saveNone);
const mulSpec = binarySpec('mul', (g, a, b, _o, _args) => [mul(g, b), mul(g, a)], saveCross);
const divSpec = binarySpec('div', (g, a, b) => [div(g, b), neg(div(mul(g, a), mul(b, b)))], saveBoth);
const powSpec = binarySpec('pow', (g, a, b, out) => [
  mul(g, where(eq(b, 0), 0, mul(b, pow(a, sub(b, 1))))),
  mul(g, where(logicalAnd(eq(a, 0), ge(b, 0)), 0, mul(out, log(a)))),
], () => ({ inputs: [0, 1], output: true }));
// as PyTorch: ties split the gradient, the losing side gets zero, and a NaN (no winner) passes it to both
const maxMinGrad = (loses: (a: Tensor, b: Tensor) => Tensor): BGrad => (g, a, b) => {
  const half = where(eq(a, b), mul(g, 0.5), g);
  return [where(loses(a, b), 0, half), where(loses(b, a), 0, half)];
};
const maximumSpec = binarySpec('maximum', maxMinGrad((a, b) => lt(a, b)), saveBoth);
const minimumSpec = binarySpec('minimum', maxMinGrad((a, b) => gt(a, b)), saveBoth);
const atan2Spec = binarySpec('atan2', (g, a, b) => {
  const d = add(mul(a, a), mul(b, b));
  return [div(mul(g, b), d), neg(div(mul(g, a), d))];
}, saveBoth);
const remainderSpec = binarySpec('remainder', (g, a, b) => [g, neg(mul(g, floor(div(a, b))))], saveBoth);
const fmodSpec = binarySpec('fmod', (g, a, b) => [g, neg(mul(g, trunc(div(a, b))))], saveBoth);

const boolCheck = (name: string, d: DType) => {
  if (d === 'bool') throw new DTypeError(name, `${name} is not supported for bool tensors; use logicalXor/logicalOr or convert with .to('int64')`);
  return d;
};

/** a + alpha * b */
export function add(a: TensorLike, b: TensorLike, opts?: { alpha?: number }): Tensor {
  const alpha = opts?.alpha ?? 1;
  if (alpha !== 1) return add(a, mul(b, alpha));
  const [x, y] = operands('add', a, b);
  if (x.dtype === 'bool') return logicalOr(x, y);
  return apply(addSpec, [x, y]);
}
/** a - alpha * b */
export function sub(a: TensorLike, b: TensorLike, opts?: { alpha?: number }): Tensor {
  const alpha = opts?.alpha ?? 1;
  if (alpha !== 1) return sub(a, mul(b, alpha));
  const [x, y] = operands('sub', a, b, (d) => boolCheck('sub', d));
  return apply(subSpec, [x, y]);
}
export function mul(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = operands('mul', a, b);
  if (x.dtype === 'bool') return logicalAnd(x, y);
  return apply(mulSpec, [x, y]);
}
/** True division (integers promote to the default float dtype); roundingMode 'trunc' | 'floor' as PyTorch. */
export function div(a: TensorLike, b: TensorLike, opts?: { roundingMode?: 'trunc' | 'floor' }): Tensor {
  const mode = opts?.roundingMode;
  if (mode !== undefined) {
    if (mode !== 'trunc' && mode !== 'floor') throw new TorchError('div', `roundingMode must be 'trunc' or 'floor', got '${mode}'`);
    const [x, y] = operands('div', a, b);
    if (isFloating(x.dtype)) return (mode === 'trunc' ? trunc : floor)(div(x, y));
    const wide = x._backend.supportsDtype('float64') ? 'float64' : 'float32';
    const q = binaryRaw('div', castRaw(x, wide), castRaw(y, wide));
    return castRaw(unaryRaw(mode === 'trunc' ? 'trunc' : 'floor', q), x.dtype);
  }
  const [x, y] = operands('div', a, b, floatOrDefault);
  return apply(divSpec, [x, y]);
}
export function pow(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = operands('pow', a, b, (d) => boolCheck('pow', d));
  if (typeof b === 'number' && b < 0 && !isFloating(x.dtype))
    throw new DTypeError('pow', `integers to negative integer powers are not allowed (${x.dtype} tensor to the power ${b}); convert to float first, e.g. x.float().pow(${b})`);
  return apply(powSpec, [x, y]);
}
export function maximum(a: TensorLike, b: TensorLike): Tensor { return apply(maximumSpec, operands('maximum', a, b)); }
export function minimum(a: TensorLike, b: TensorLike): Tensor { return apply(minimumSpec, operands('minimum', a, b)); }
export function atan2(a: TensorLike, b: TensorLike): Tensor { return apply(atan2Spec, operands('atan2', a, b, floatOrDefault)); }
export function remainder(a: TensorLike, b: TensorLike): Tensor { return apply(remainderSpec, operands('remainder', a, b)); }
export function fmod(a: TensorLike, b: TensorLike): Tensor { return apply(fmodSpec, operands('fmod', a, b)); }

function compare(op: BinaryOp) {
  const spec = binarySpec(op, undefined, saveNone);
  return (a: TensorLike, b: TensorLike): Tensor => apply(spec, operands(op, a, b));
}
export const eq = compare('eq');
export const ne = compare('ne');
export const lt = compare('lt');
export const le = compare('le');
export const gt = compare('gt');
export const ge = compare('ge');
export const logicalAnd = compare('logicalAnd');
export const logicalOr = compare('logicalOr');
export function logicalXor(a: TensorLike, b: TensorLike): Tensor {
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) throw new TorchError('logicalXor', 'expected at least one Tensor operand');
  return named('logicalXor', () => {
    const dev = commonDevice('logicalXor', [a, b]);
    return ne(operandOf(a, 'bool', dev), operandOf(b, 'bool', dev));
  });
}

// ---------------- ternary and composites ----------------

const whereSpec: OpSpec<[]> = {
  name: 'where',
  forward: ([c, a, b]) => ternaryRaw('where', c, a, b),
  backward: (g, c) => [null, where(c.inputs[0], g, 0), where(c.inputs[0], 0, g)],
  save: () => ({ inputs: [0] }),
};
/** where(cond, a, b): a where cond is true, else b (broadcasting, type promotion as PyTorch). */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  if (!(cond instanceof Tensor)) throw new TorchError('where', 'the condition must be a Tensor');
  const dev = commonDevice('where', [cond, a, b]);
  const dt = promote([a, b]);
  const c = cond.dtype === 'bool' ? toDevice(cond, dev) : castRaw(toDevice(cond, dev), 'bool');
  return apply(whereSpec, [c, operandOf(a, dt, dev), operandOf(b, dt, dev)]);
}
export function maskedFill(x: Tensor, mask: Tensor, value: TensorLike): Tensor {
  if (!(mask instanceof Tensor) || mask.dtype !== 'bool')
    throw new DTypeError('maskedFill', `the mask must be a bool tensor, got ${mask instanceof Tensor ? mask.dtype : typeof mask}`);
  const v = value instanceof Tensor ? toDtype(value, x.dtype) : value;
  const out = where(mask, v, x);
  return out.dtype === x.dtype ? out : toDtype(out, x.dtype);
}

const clampSpec: OpSpec<[]> = {
  name: 'clamp',
  forward: ([x, lo, hi]) => {
    let r = x;
    if (lo) r = binaryRaw('maximum', r, lo);
    if (hi) r = binaryRaw('minimum', r, hi);
    return r;
  },
  backward: (g, c) => {
    const [x, lo, hi] = c.inputs;
    let m: Tensor | null = null;
    if (lo) m = ge(x, lo);
    if (hi) m = m ? logicalAnd(m, le(x, hi)) : le(x, hi);
    const gx = m ? mul(g, toDtype(m, g.dtype)) : g;
    return [gx, lo ? mul(g, toDtype(lt(x, lo), g.dtype)) : null, hi ? mul(g, toDtype(gt(x, hi), g.dtype)) : null];
  },
};
/** Clamps to [min, max]; either bound may be omitted (null/undefined). */
export function clamp(x: Tensor, min?: TensorLike | null, max?: TensorLike | null): Tensor {
  const t = checkTensor('clamp', x);
  if ((min === undefined || min === null) && (max === undefined || max === null))
    throw new TorchError('clamp', 'at least one of min or max must be given');
  const lim = [min, max].filter((v) => v !== undefined && v !== null) as TensorLike[];
  const dt = promote([t, ...lim]);
  const dev = commonDevice('clamp', [t, ...lim]);
  const lo = min === undefined || min === null ? null : operandOf(min, dt, dev);
  const hi = max === undefined || max === null ? null : operandOf(max, dt, dev);
  return apply(clampSpec, [toDtype(t, dt), lo as Tensor, hi as Tensor]);
}

/** start + weight * (end - start) */
export function lerp(start: TensorLike, end: TensorLike, weight: TensorLike): Tensor {
  return add(start, mul(weight, sub(end, start)));
}
export function addcmul(x: TensorLike, t1: TensorLike, t2: TensorLike, opts?: { value?: number }): Tensor {
  return add(x, mul(mul(t1, t2), opts?.value ?? 1));
}
export function addcdiv(x: TensorLike, t1: TensorLike, t2: TensorLike, opts?: { value?: number }): Tensor {
  return add(x, mul(div(t1, t2), opts?.value ?? 1));
}

// ---------------- copies ----------------

const cloneSpec: OpSpec<[]> = {
  name: 'clone',
  forward: ([x]) => {
    const out = empty_(x._backend, x.shape, x.dtype);
    if (out.numel() > 0) x._backend.copy(x._view, out._view);
    return out;
  },
  backward: (g) => [g],
  save: () => ({}),
};
/** A contiguous copy that stays in the graph. */
export function clone(x: Tensor): Tensor { return apply(cloneSpec, [checkTensor('clone', x)]); }
