/**
 * The op table: one entry per op of API.md's Tensor section (math, reductions, shape and views,
 * indexing, in place, conversion, creation). Each entry says how to call the op (as a method
 * and/or a free function), which fixture rows apply (test/fixtures/core/ops.json, same name,
 * written by scripts/gen_fixtures.py, whose calls mirror the ones here), error inputs with the
 * message they must give, and whether the op is differentiable. runner.ts runs it per device.
 */
import torch, { Tensor, TorchError, ShapeError, DTypeError, IndexError, DeviceError, type DType } from '../../src/index.js';
import { applyView } from './fixtures.js';

/** A call of the op on a sample's inputs and args; returns NA where this form cannot express the sample. */
export type Call = (v: any[], a: Record<string, any>, device: string) => unknown;
export const NA = Symbol('not applicable');

export interface ErrorCase {
  /** What is wrong, e.g. 'shape mismatch'. */
  what: string;
  /** `other` is a second available device (cases with `needsOtherDevice` are skipped without one). */
  run: (device: string, other: string) => unknown;
  needsOtherDevice?: boolean;
  /** The message must match (it must also start with the op's name and a colon). */
  match: RegExp;
  /** The TorchError subclass expected (default: any TorchError). */
  type?: typeof TorchError;
  /** The op name the message must start with (default: the entry's op). */
  op?: string;
}

export interface OpEntry {
  /** The fixture key (usually the API name). */
  name: string;
  /** The API names this entry exercises (for the coverage check). */
  api: string[];
  method?: Call;
  fn?: Call;
  /** Differentiable: gradients are compared with PyTorch's and checked by gradcheck. */
  diff: boolean;
  errors?: ErrorCase[];
  /** Fixture samples PyTorch 1.13 refuses but torchlet accepts on purpose, with the reason. */
  lenient?: Record<string, string>;
  /** Fixture samples not compared, with the reason (known, listed differences). */
  skip?: Record<string, string>;
  /** Fixture samples whose values are compared but whose gradients are not, with the reason. */
  skipGrad?: Record<string, string>;
  /** Extra gradcheck-only options (eps/atol) or false to skip gradcheck with a reason. */
  gradcheck?: { atol?: number; rtol?: number; eps?: number } | { skip: string };
}

const T = torch as any;
const opt = (o: Record<string, unknown>): any => {
  const r: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) r[k] = v;
  return Object.keys(r).length ? r : undefined;
};
const t2 = (dev: string, ...shape: number[]) => torch.randn(shape, { device: dev });

// ---------------------------------------------------------------- math

function unary(name: string, diff: boolean, extra: Partial<OpEntry> = {}): OpEntry {
  return {
    name, api: [name], diff,
    method: ([x]) => (x as any)[name](),
    fn: ([x]) => T[name](x),
    errors: [{ what: 'a non-tensor input', run: () => T[name](null), match: /Tensor/ }],
    ...extra,
  };
}
const UNARY_DIFF = ['neg', 'abs', 'exp', 'log', 'log1p', 'expm1', 'sqrt', 'rsqrt', 'sin', 'cos', 'tanh', 'sigmoid', 'relu',
  'gelu', 'silu', 'softplus', 'erf', 'reciprocal', 'square'];
const UNARY_NONDIFF = ['sign', 'floor', 'ceil', 'round', 'trunc', 'isnan', 'isfinite', 'logicalNot'];

function binary(name: string, diff: boolean, extra: Partial<OpEntry> = {}): OpEntry {
  return {
    name, api: [name], diff,
    method: ([a, b]) => (a instanceof Tensor ? (a as any)[name](b) : NA),
    fn: ([a, b]) => T[name](a, b),
    errors: [
      { what: 'shapes that do not broadcast', run: (d) => T[name](t2(d, 2, 3), t2(d, 4)), match: /\[2, 3\].*\[4\]|\[4\].*\[2, 3\]/, type: ShapeError },
      { what: 'two numbers', run: () => T[name](1, 2), match: /Tensor/ },
      { what: 'operands on two devices', needsOtherDevice: true, run: (d, o) => T[name](t2(d, 2), t2(o, 2)), match: /same device.*(cpu|webgpu|cuda)/, type: DeviceError },
    ],
    ...extra,
  };
}

const INT_ACTIVATION = {
  int64: 'torchlet computes this activation of an integer tensor in the default float dtype (PyTorch has no integer kernel)',
  int32: 'torchlet computes this activation of an integer tensor in the default float dtype (PyTorch has no integer kernel)',
};
const math: OpEntry[] = [
  ...UNARY_DIFF.map((n) => unary(n, true, {
    ...(['gelu', 'silu', 'softplus'].includes(n) ? { lenient: INT_ACTIVATION } : {}),
    ...(n === 'abs' ? { lenient: { bool: 'torchlet computes abs of a bool tensor (identity); PyTorch has no bool kernel' } } : {}),
  })),
  ...UNARY_NONDIFF.map((n) => unary(n, false)),
  {
    name: 'geluTanh', api: ['gelu'], diff: true,
    method: ([x]) => x.gelu({ approximate: 'tanh' }), fn: ([x]) => torch.gelu(x, { approximate: 'tanh' }),
    errors: [{ what: 'an unknown approximation', run: (d) => torch.gelu(t2(d, 2), { approximate: 'fast' as any }), match: /approximate/, op: 'gelu' }],
  },
  {
    name: 'softplusBeta', api: ['softplus'], diff: true,
    method: ([x], a) => x.softplus({ beta: a.beta, threshold: a.threshold }), fn: ([x], a) => torch.softplus(x, { beta: a.beta, threshold: a.threshold }),
  },
  binary('add', true, {
    method: ([a, b], o) => a.add(b, opt({ alpha: o.alpha })), fn: ([a, b], o) => torch.add(a, b, opt({ alpha: o.alpha })),
  }),
  binary('sub', true, {
    method: ([a, b], o) => a.sub(b, opt({ alpha: o.alpha })), fn: ([a, b], o) => torch.sub(a, b, opt({ alpha: o.alpha })),
    errors: [{ what: 'bool operands', run: (d) => torch.sub(torch.ones([2], { dtype: 'bool', device: d }), torch.ones([2], { dtype: 'bool', device: d })), match: /bool/, type: DTypeError }],
  }),
  binary('mul', true, {
    method: ([a, b], o) => a.mul(o.same ? a : b), fn: ([a, b], o) => torch.mul(a, o.same ? a : b),
  }),
  binary('div', true, {
    method: ([a, b], o) => a.div(b, opt({ roundingMode: o.rounding_mode })), fn: ([a, b], o) => torch.div(a, b, opt({ roundingMode: o.rounding_mode })),
    errors: [{ what: 'an unknown rounding mode', run: (d) => torch.div(t2(d, 2), 2, { roundingMode: 'ceil' as any }), match: /roundingMode/ }],
  }),
  binary('pow', true),
  binary('maximum', true, { lenient: {} }),
  binary('minimum', true),
  binary('atan2', true),
  binary('remainder', true),
  binary('fmod', true),
  ...['eq', 'ne', 'lt', 'le', 'gt', 'ge'].map((n) => binary(n, false)),
  ...['logicalAnd', 'logicalOr', 'logicalXor'].map((n) => binary(n, false, {
    method: ([a, b]: any[]) => (n === 'logicalXor' ? NA : a[n](b)),
  })),
  {
    name: 'where', api: ['where'], diff: true,
    method: ([c, a, b]) => (a instanceof Tensor ? a.where(c, b) : NA),
    fn: ([c, a, b]) => torch.where(c, a, b),
    errors: [
      { what: 'a non-tensor condition', run: (d) => torch.where(true as any, t2(d, 2), 0), match: /condition/ },
      { what: 'shapes that do not broadcast', run: (d) => torch.where(torch.ones([3], { dtype: 'bool', device: d }), t2(d, 2), 0), match: /\[3\].*\[2\]/, type: ShapeError },
      { what: 'operands on two devices', needsOtherDevice: true, run: (d, o) => torch.where(torch.ones([2], { dtype: 'bool', device: d }), t2(d, 2), t2(o, 2)), match: /same device/, type: DeviceError },
    ],
  },
  {
    name: 'maskedFill', api: ['maskedFill'], diff: true,
    method: ([x, m, v]) => x.maskedFill(m, v), fn: ([x, m, v]) => torch.maskedFill(x, m, v),
    errors: [{ what: 'a float mask', run: (d) => t2(d, 3).maskedFill(t2(d, 3), 0), match: /bool/, type: DTypeError }],
  },
  { name: 'lerp', api: ['lerp'], diff: true, method: ([a, b, w]) => a.lerp(b, w), fn: ([a, b, w]) => torch.lerp(a, b, w) },
  {
    name: 'addcmul', api: ['addcmul'], diff: true,
    method: ([x, a, b], o) => x.addcmul(a, b, opt({ value: o.value })), fn: ([x, a, b], o) => torch.addcmul(x, a, b, opt({ value: o.value })),
  },
  {
    name: 'addcdiv', api: ['addcdiv'], diff: true,
    method: ([x, a, b], o) => x.addcdiv(a, b, opt({ value: o.value })), fn: ([x, a, b], o) => torch.addcdiv(x, a, b, opt({ value: o.value })),
  },
  {
    name: 'clamp', api: ['clamp'], diff: true,
    method: ([x, lo, hi]) => x.clamp(lo, hi), fn: ([x, lo, hi]) => torch.clamp(x, lo, hi),
    errors: [{ what: 'no bounds', run: (d) => t2(d, 2).clamp(), match: /min or max/ }],
  },
  {
    name: 'matmul', api: ['matmul'], diff: true,
    method: ([a, b]) => a.matmul(b), fn: ([a, b]) => torch.matmul(a, b),
    lenient: { f32_f64: 'torchlet promotes mixed float operands of matmul (PyTorch requires one dtype)' },
    errors: [
      { what: 'inner sizes differ', run: (d) => t2(d, 2, 3).matmul(t2(d, 4, 2)), match: /\[2, 3\].*\[4, 2\].*2x3 and 4x2/, type: ShapeError },
      { what: 'batch dims that do not broadcast', run: (d) => t2(d, 2, 2, 3).matmul(t2(d, 3, 3, 2)), match: /\[2\].*\[3\]/, type: ShapeError },
      { what: 'a 0-d operand', run: (d) => t2(d).matmul(t2(d, 3)), match: /at least 1 dimension/, type: ShapeError },
      { what: 'bool operands', run: (d) => torch.ones([2, 2], { dtype: 'bool', device: d }).matmul(torch.ones([2, 2], { dtype: 'bool', device: d })), match: /bool/, type: DTypeError },
      { what: 'int and float operands', run: (d) => torch.ones([2, 2], { dtype: 'int64', device: d }).matmul(t2(d, 2, 2)), match: /int64.*float32|same dtype/, type: DTypeError },
      { what: 'operands on two devices', needsOtherDevice: true, run: (d, o) => t2(d, 2, 2).matmul(t2(o, 2, 2)), match: /same device/, type: DeviceError },
    ],
  },
  {
    name: 'mm', api: ['mm'], diff: true, method: ([a, b]) => a.mm(b), fn: ([a, b]) => torch.mm(a, b),
    errors: [{ what: 'a 1-D operand', run: (d) => t2(d, 3).mm(t2(d, 3, 2)), match: /2-D.*\[3\]/, type: ShapeError }],
  },
  {
    name: 'bmm', api: ['bmm'], diff: true, method: ([a, b]) => a.bmm(b), fn: ([a, b]) => torch.bmm(a, b),
    errors: [
      { what: 'batch sizes differ', run: (d) => t2(d, 2, 3, 4).bmm(t2(d, 3, 4, 5)), match: /\[2, 3, 4\].*\[3, 4, 5\]/, type: ShapeError },
      { what: 'inner sizes differ', run: (d) => t2(d, 2, 3, 4).bmm(t2(d, 2, 3, 5)), match: /\[2, 3, 4\].*\[2, 3, 5\]/, type: ShapeError },
    ],
  },
  {
    name: 'dot', api: ['dot'], diff: true, method: ([a, b]) => a.dot(b), fn: ([a, b]) => torch.dot(a, b),
    errors: [{ what: 'lengths differ', run: (d) => t2(d, 3).dot(t2(d, 4)), match: /3 and 4/, type: ShapeError }],
  },
  {
    name: 'outer', api: ['outer'], diff: true, method: ([a, b]) => a.outer(b), fn: ([a, b]) => torch.outer(a, b),
    errors: [{ what: 'a 2-D operand', run: (d) => t2(d, 2, 2).outer(t2(d, 3)), match: /1D.*\[2, 2\]/, type: ShapeError }],
  },
];

// ---------------------------------------------------------------- reductions

const dimArg = (a: Record<string, any>) => a.dim;
function reduction(name: string, diff: boolean, extra: Partial<OpEntry> = {}): OpEntry {
  return {
    name, api: [name], diff,
    method: ([x], a) => ('keepdim' in a ? (x as any)[name](dimArg(a) ?? null, a.keepdim) : 'dim' in a ? (x as any)[name](a.dim) : (x as any)[name]()),
    fn: ([x], a) => T[name](x, dimArg(a) ?? null, a.keepdim ?? false),
    errors: [
      { what: 'a dim out of range', run: (d) => T[name](t2(d, 2, 3), 5), match: /dimension 5 is out of range.*2 dims/, type: IndexError },
    ],
    ...extra,
  };
}
function varEntry(name: 'var' | 'std'): OpEntry {
  const o = (a: Record<string, any>) => opt({ correction: a.correction, keepdim: a.keepdim, unbiased: a.unbiased });
  return {
    name, api: [name], diff: true,
    method: ([x], a) => (x as any)[name](a.dim ?? null, o(a)),
    fn: ([x], a) => T[name](x, a.dim ?? null, o(a)),
    skipGrad: {
      zero_d: 'degenerate: one element with correction 1 divides 0 by 0 (PyTorch gives -inf, torchlet nan)',
      correction_big: 'degenerate: correction > n; PyTorch clamps the divisor at 0 in forward but not in backward',
    },
    errors: [
      { what: 'an integer input', run: (d) => T[name](torch.ones([3], { dtype: 'int64', device: d })), match: /floating point.*int64/, type: DTypeError, op: 'var' },
      { what: 'a dim out of range', run: (d) => T[name](t2(d, 2), 1), match: /out of range/, type: IndexError, op: 'var' },
    ],
  };
}
const normP = (p: unknown) => (p === 'inf' ? Infinity : p === '-inf' ? -Infinity : p);
function maxMinEntry(name: 'max' | 'min'): OpEntry {
  const call = (x: Tensor, v: any[], a: Record<string, any>) => {
    if (v.length > 1) return (x as any)[name](v[1]);
    if ('dim' in a) return (x as any)[name](a.dim, a.keepdim ?? false);
    return (x as any)[name]();
  };
  return {
    name, api: [name], diff: true,
    method: (v, a) => call(v[0], v, a),
    fn: (v, a) => (v.length > 1 ? T[name](v[0], v[1]) : 'dim' in a ? T[name](v[0], a.dim, a.keepdim ?? false) : T[name](v[0])),
    errors: [
      { what: 'an empty input without dim', run: (d) => T[name](torch.zeros([0], { device: d })), match: /empty|zero-size/, type: IndexError },
      { what: 'a dim out of range', run: (d) => T[name](t2(d, 2), 3), match: /out of range/, type: IndexError },
    ],
  };
}
function softmaxEntry(name: 'softmax' | 'logSoftmax'): OpEntry {
  return {
    name, api: [name], diff: true,
    method: ([x], a) => x[name](a.dim), fn: ([x], a) => T[name](x, a.dim),
    errors: [
      { what: 'no dim', run: (d) => (t2(d, 3) as any)[name](), match: /dim is required/ },
      { what: 'an integer input', run: (d) => torch.ones([3], { dtype: 'int64', device: d })[name](0), match: /floating point.*int64/, type: DTypeError },
    ],
  };
}

const reductions: OpEntry[] = [
  reduction('sum', true, {
    errors: [
      { what: 'a dim out of range', run: (d) => t2(d, 2, 3).sum(2), match: /dimension 2 is out of range.*2 dims.*\[-2, 1\]/, type: IndexError },
      { what: 'a repeated dim', run: (d) => t2(d, 2, 3).sum([0, 0]), match: /appears multiple times/, type: IndexError },
    ],
  }),
  reduction('mean', true, {
    errors: [
      { what: 'an integer input', run: (d) => torch.ones([3], { dtype: 'int64', device: d }).mean(), match: /floating point.*int64/, type: DTypeError },
      { what: 'a dim out of range', run: (d) => t2(d, 2).mean(-2), match: /out of range/, type: IndexError },
    ],
  }),
  reduction('prod', true, {
    method: ([x], a) => ('keepdim' in a ? x.prod(a.dim, a.keepdim) : 'dim' in a ? x.prod(a.dim) : x.prod()),
    fn: ([x], a) => torch.prod(x, a.dim ?? null, a.keepdim ?? false),
  }),
  varEntry('var'),
  varEntry('std'),
  {
    name: 'norm', api: ['norm'], diff: true,
    method: ([x], a) => x.norm(normP(a.p) as any, a.dim ?? null, a.keepdim ?? false),
    fn: ([x], a) => torch.norm(x, normP(a.p) as any, a.dim ?? null, a.keepdim ?? false),
    errors: [{ what: 'an integer input', run: (d) => torch.ones([3], { dtype: 'int64', device: d }).norm(), match: /floating point.*int64/, type: DTypeError }],
  },
  {
    name: 'logsumexp', api: ['logsumexp'], diff: true,
    method: ([x], a) => x.logsumexp(a.dim, a.keepdim), fn: ([x], a) => torch.logsumexp(x, a.dim, a.keepdim),
    errors: [{ what: 'a dim out of range', run: (d) => t2(d, 2, 3).logsumexp(3), match: /out of range/, type: IndexError }],
  },
  reduction('amax', true, {
    errors: [
      { what: 'an empty input without dim', run: (d) => torch.zeros([0, 3], { device: d }).amax(), match: /(empty|zero-size).*\[0, 3\]/, type: IndexError },
      { what: 'a zero-size reduced dim', run: (d) => torch.zeros([0, 3], { device: d }).amax(0), match: /zero-size.*\[0, 3\]/, type: IndexError },
    ],
  }),
  reduction('amin', true),
  reduction('argmax', false, {
    method: ([x], a) => x.argmax(a.dim ?? null, a.keepdim ?? false), fn: ([x], a) => torch.argmax(x, a.dim ?? null, a.keepdim ?? false),
    skip: { bool: 'torchlet computes argmax of bool tensors (PyTorch 1.13 has no bool kernel)' },
  }),
  reduction('argmin', false, {
    method: ([x], a) => x.argmin(a.dim ?? null, a.keepdim ?? false), fn: ([x], a) => torch.argmin(x, a.dim ?? null, a.keepdim ?? false),
    skip: { bool: 'torchlet computes argmin of bool tensors (PyTorch 1.13 has no bool kernel)' },
  }),
  reduction('all', false),
  reduction('any', false),
  {
    name: 'cumsum', api: ['cumsum'], diff: true,
    method: ([x], a) => x.cumsum(a.dim), fn: ([x], a) => torch.cumsum(x, a.dim),
    errors: [{ what: 'a dim out of range', run: (d) => t2(d, 3).cumsum(1), match: /out of range/, type: IndexError }],
  },
  softmaxEntry('softmax'),
  softmaxEntry('logSoftmax'),
  maxMinEntry('max'),
  maxMinEntry('min'),
  {
    name: 'sort', api: ['sort'], diff: true,
    method: ([x], a) => ('dim' in a || 'descending' in a ? x.sort(a.dim ?? -1, a.descending ?? false) : x.sort()),
    fn: ([x], a) => torch.sort(x, a.dim ?? -1, a.descending ?? false),
    errors: [{ what: 'a dim out of range', run: (d) => t2(d, 3).sort(1), match: /out of range/, type: IndexError }],
  },
  {
    name: 'topk', api: ['topk'], diff: true,
    method: ([x], a) => x.topk(a.k, a.dim ?? -1, a.largest ?? true), fn: ([x], a) => torch.topk(x, a.k, a.dim ?? -1, a.largest ?? true),
    errors: [{ what: 'k larger than the dim', run: (d) => t2(d, 3).topk(4), match: /k \(4\) is out of range.*size 3/, type: IndexError }],
  },
];

// ---------------------------------------------------------------- shape and views

const shape: OpEntry[] = [
  {
    name: 'reshape', api: ['reshape'], diff: true,
    method: ([x], a) => x.reshape(...a.shape), fn: ([x], a) => torch.reshape(x, a.shape),
    errors: [{ what: 'a wrong numel', run: (d) => t2(d, 2, 3).reshape(4, 2), match: /\[4, 2\].*size 6/, type: ShapeError }],
  },
  {
    name: 'view', api: ['view'], diff: true,
    method: ([x], a) => x.view(...a.shape), fn: ([x], a) => torch.view(x, a.shape),
    errors: [
      { what: 'a layout that cannot be viewed', run: (d) => t2(d, 3, 4).t().view(12), match: /not compatible.*reshape/, type: ShapeError },
      { what: 'a wrong numel', run: (d) => t2(d, 2, 3).view(5), match: /\[5\].*size 6/, type: ShapeError },
    ],
  },
  {
    name: 'flatten', api: ['flatten'], diff: true,
    method: ([x], a) => x.flatten(...(a.args ?? [])), fn: ([x], a) => torch.flatten(x, ...(a.args ?? [])),
    errors: [{ what: 'start after end', run: (d) => t2(d, 2, 3, 4).flatten(2, 1), match: /cannot come after/, type: IndexError }],
  },
  {
    name: 'unflatten', api: ['unflatten'], diff: true,
    method: ([x], a) => x.unflatten(a.dim, a.sizes), fn: ([x], a) => torch.unflatten(x, a.dim, a.sizes),
    errors: [{ what: 'sizes that do not multiply up', run: (d) => t2(d, 2, 6).unflatten(1, [4, 2]), match: /\[4, 2\].*6/, type: ShapeError }],
  },
  {
    name: 'squeeze', api: ['squeeze'], diff: true,
    method: ([x], a) => ('dim' in a ? x.squeeze(a.dim) : x.squeeze()), fn: ([x], a) => torch.squeeze(x, a.dim),
    errors: [{ what: 'a dim out of range', run: (d) => t2(d, 2, 1).squeeze(2), match: /out of range/, type: IndexError }],
  },
  {
    name: 'unsqueeze', api: ['unsqueeze'], diff: true,
    method: ([x], a) => x.unsqueeze(a.dim), fn: ([x], a) => torch.unsqueeze(x, a.dim),
    errors: [{ what: 'a dim out of range', run: (d) => t2(d, 2, 3).unsqueeze(3), match: /dimension 3 is out of range.*\[-3, 2\]/, type: IndexError }],
  },
  {
    name: 'transpose', api: ['transpose'], diff: true,
    method: ([x], a) => x.transpose(a.d0, a.d1), fn: ([x], a) => torch.transpose(x, a.d0, a.d1),
    errors: [{ what: 'a dim out of range', run: (d) => t2(d, 2, 3).transpose(0, 2), match: /out of range/, type: IndexError }],
  },
  {
    name: 't', api: ['t'], diff: true, method: ([x]) => x.t(), fn: ([x]) => torch.t(x),
    errors: [{ what: 'a 3-D input', run: (d) => t2(d, 2, 2, 2).t(), match: /<= 2 dimensions/, type: ShapeError }],
  },
  {
    name: 'permute', api: ['permute'], diff: true,
    method: ([x], a) => x.permute(...a.dims), fn: ([x], a) => torch.permute(x, a.dims),
    errors: [
      { what: 'wrong number of dims', run: (d) => t2(d, 2, 3).permute(0), match: /2 dims but 1/, type: ShapeError },
      { what: 'a repeated dim', run: (d) => t2(d, 2, 3).permute(0, 0), match: /repeated/, type: ShapeError },
    ],
  },
  {
    name: 'expand', api: ['expand'], diff: true,
    method: ([x], a) => x.expand(...a.shape), fn: ([x], a) => torch.expand(x, a.shape),
    errors: [
      { what: 'a non-singleton dim changed', run: (d) => t2(d, 3, 2).expand(3, 4), match: /\[3, 2\].*\[3, 4\]/, type: ShapeError },
      { what: 'fewer sizes than dims', run: (d) => t2(d, 3, 2).expand(2), match: /number of sizes/, type: ShapeError },
    ],
  },
  {
    name: 'expandAs', api: ['expandAs'], diff: true, method: ([x, o]) => x.expandAs(o),
    errors: [{ what: 'an incompatible target', run: (d) => t2(d, 3, 2).expandAs(t2(d, 3, 4)), match: /\[3, 2\].*\[3, 4\]/, type: ShapeError, op: 'expand' }],
  },
  {
    name: 'narrow', api: ['narrow'], diff: true,
    method: ([x], a) => x.narrow(a.dim, a.start, a.length), fn: ([x], a) => torch.narrow(x, a.dim, a.start, a.length),
    errors: [{ what: 'a range past the end', run: (d) => t2(d, 4).narrow(0, 2, 3), match: /start \(2\) \+ length \(3\) exceeds.*4/, type: IndexError }],
  },
  {
    name: 'select', api: ['select'], diff: true,
    method: ([x], a) => x.select(a.dim, a.index), fn: ([x], a) => torch.select(x, a.dim, a.index),
    errors: [{ what: 'an index out of range', run: (d) => t2(d, 3, 4).select(0, 3), match: /index 3 is out of bounds.*dimension 0 with size 3/, type: IndexError }],
  },
  {
    name: 'unfold', api: ['unfold'], diff: true,
    method: ([x], a) => x.unfold(a.dim, a.size, a.step), fn: ([x], a) => torch.unfold(x, a.dim, a.size, a.step),
    errors: [{ what: 'a window larger than the dim', run: (d) => t2(d, 3).unfold(0, 4, 1), match: /size is 4/, type: ShapeError }],
  },
  {
    name: 'split', api: ['split'], diff: true,
    method: ([x], a) => x.split(a.size, a.dim ?? 0), fn: ([x], a) => torch.split(x, a.size, a.dim ?? 0),
    errors: [{ what: 'sizes that do not sum up', run: (d) => t2(d, 5).split([2, 2]), match: /\[2, 2\] sum to 4.*size 5/, type: ShapeError }],
  },
  {
    name: 'chunk', api: ['chunk'], diff: true,
    method: ([x], a) => x.chunk(a.n, a.dim ?? 0), fn: ([x], a) => torch.chunk(x, a.n, a.dim ?? 0),
    errors: [{ what: 'zero chunks', run: (d) => t2(d, 4).chunk(0), match: /positive/, type: ShapeError }],
  },
  { name: 'unbind', api: ['unbind'], diff: true, method: ([x], a) => x.unbind(a.dim ?? 0), fn: ([x], a) => torch.unbind(x, a.dim ?? 0) },
  {
    name: 'repeat', api: ['repeat'], diff: true,
    method: ([x], a) => x.repeat(...a.sizes), fn: ([x], a) => torch.repeat(x, a.sizes),
    errors: [{ what: 'fewer sizes than dims', run: (d) => t2(d, 2, 3).repeat(2), match: /can not be smaller/, type: ShapeError }],
  },
  {
    name: 'flip', api: ['flip'], diff: true, method: ([x], a) => x.flip(a.dims), fn: ([x], a) => torch.flip(x, a.dims),
    errors: [{ what: 'a dim out of range', run: (d) => t2(d, 3).flip([1]), match: /out of range/, type: IndexError }],
  },
  {
    name: 'roll', api: ['roll'], diff: true,
    method: ([x], a) => x.roll(a.shifts, a.dims), fn: ([x], a) => torch.roll(x, a.shifts, a.dims),
    errors: [{ what: 'shifts and dims of different lengths', run: (d) => t2(d, 3, 4).roll([1, 2], [0]), match: /same length/, type: ShapeError }],
  },
  {
    name: 'tril', api: ['tril'], diff: true, method: ([x], a) => x.tril(a.k ?? 0), fn: ([x], a) => torch.tril(x, a.k ?? 0),
    errors: [{ what: 'a 1-D input', run: (d) => t2(d, 3).tril(), match: /at least 2 dimensions.*\[3\]/, type: ShapeError }],
  },
  {
    name: 'triu', api: ['triu'], diff: true, method: ([x], a) => x.triu(a.k ?? 0), fn: ([x], a) => torch.triu(x, a.k ?? 0),
    errors: [{ what: 'a 1-D input', run: (d) => t2(d, 3).triu(), match: /at least 2 dimensions.*\[3\]/, type: ShapeError }],
  },
  {
    name: 'cat', api: ['cat'], diff: true, fn: (v, a) => torch.cat(v, a.dim ?? 0),
    errors: [
      { what: 'sizes that differ off the cat dim', run: (d) => torch.cat([t2(d, 2, 3), t2(d, 2, 2)]), match: /\[2, 3\] and \[2, 2\]/, type: ShapeError },
      { what: 'an empty list', run: () => torch.cat([]), match: /non-empty/ },
      { what: 'tensors on two devices', needsOtherDevice: true, run: (d, o) => torch.cat([t2(d, 2), t2(o, 2)]), match: /same device/, type: DeviceError },
    ],
  },
  {
    name: 'stack', api: ['stack'], diff: true, fn: (v, a) => torch.stack(v, a.dim ?? 0),
    errors: [{ what: 'different shapes', run: (d) => torch.stack([t2(d, 2, 3), t2(d, 3, 2)]), match: /\[2, 3\] and \[3, 2\]/, type: ShapeError }],
  },
  { name: 'contiguous', api: ['contiguous', 'isContiguous'], diff: true, method: ([x]) => { const c = x.contiguous(); if (!c.isContiguous()) throw new Error('contiguous() result is not contiguous'); return c; } },
  { name: 'clone', api: ['clone'], diff: true, method: ([x]) => x.clone(), fn: ([x]) => torch.clone(x) },
  { name: 'detach', api: ['detach'], diff: false, method: ([x]) => x.detach(), fn: ([x]) => torch.detach(x) },
];

// ---------------------------------------------------------------- indexing

const specOf = (v: any[], s: any) => (s && typeof s === 'object' ? ('list' in s ? s.list : v[s.t]) : s);
const indexing: OpEntry[] = [
  {
    name: 'index', api: ['index'], diff: true,
    method: (v, a) => v[0].index(...a.specs.map((s: any) => specOf(v, s))),
    errors: [
      { what: 'an index out of range', run: (d) => t2(d, 3, 4).index(3), match: /index 3 is out of bounds for dimension 0 with size 3/, type: IndexError },
      { what: 'a tensor index out of range', run: (d) => t2(d, 3).index(torch.tensor([0, 3], { device: d })), match: /index 3 is out of bounds/, type: IndexError },
      { what: 'too many indices', run: (d) => t2(d, 3).index(0, 0), match: /too many indices/, type: IndexError },
      { what: 'a malformed slice', run: (d) => t2(d, 3).index('1:x'), match: /cannot parse the slice/, type: IndexError },
      { what: 'a negative step', run: (d) => t2(d, 3).index('::-1'), match: /step/, type: IndexError },
      { what: 'two ellipses', run: (d) => t2(d, 3).index('...', '...'), match: /single ellipsis/, type: IndexError },
      { what: 'a float index tensor', run: (d) => t2(d, 3).index(t2(d, 2)), match: /int64, int32 or bool.*float32/, type: IndexError },
      { what: 'a mask of the wrong shape', run: (d) => t2(d, 3).index(torch.ones([2], { dtype: 'bool', device: d })), match: /mask \[2\].*\[3\]/, type: IndexError },
    ],
  },
  {
    name: 'indexPut_', api: ['indexPut_'], diff: true,
    method: (v, a) => {
      const x = v[0].clone();
      const r = x.indexPut_(a.specs.map((s: any) => specOf(v, s)), v[a.value], a.accumulate ?? false);
      if (r !== x) throw new Error('indexPut_ must return this');
      return x;
    },
    errors: [{ what: 'a value that does not broadcast', run: (d) => t2(d, 3, 4).indexPut_([0], t2(d, 2, 4)), match: /\[2, 4\].*\[4\]/, type: ShapeError }],
  },
  {
    name: 'gather', api: ['gather'], diff: true,
    method: ([x, i], a) => x.gather(a.dim, i), fn: ([x, i], a) => torch.gather(x, a.dim, i),
    errors: [
      { what: 'an index out of range', run: (d) => t2(d, 3).gather(0, torch.tensor([3], { device: d })), match: /out of (bounds|range)/, type: IndexError },
      { what: 'a float index', run: (d) => t2(d, 3).gather(0, t2(d, 2)), match: /int64.*float32/, type: DTypeError },
      { what: 'index with fewer dims', run: (d) => t2(d, 3, 3).gather(0, torch.tensor([0, 1], { device: d })), match: /same number of dimensions/, type: ShapeError },
      { what: 'an index on another device', needsOtherDevice: true, run: (d, o) => t2(d, 3).gather(0, torch.tensor([0], { device: o })), match: /index is on .* but the input is on/, type: DeviceError },
    ],
  },
  {
    name: 'scatter', api: ['scatter'], diff: true,
    method: ([x, i, s], a) => x.scatter(a.dim, i, s), fn: ([x, i, s], a) => torch.scatter(x, a.dim, i, s),
    errors: [
      { what: 'an index out of range', run: (d) => t2(d, 3).scatter(0, torch.tensor([5], { device: d }), t2(d, 1)), match: /out of (bounds|range)/, type: IndexError },
      { what: 'src of another dtype', run: (d) => t2(d, 3).scatter(0, torch.tensor([1], { device: d }), torch.ones([1], { dtype: 'int32', device: d })), match: /float32.*int32/, type: DTypeError },
    ],
  },
  {
    name: 'scatterAdd', api: ['scatterAdd'], diff: true,
    method: ([x, i, s], a) => x.scatterAdd(a.dim, i, s), fn: ([x, i, s], a) => torch.scatterAdd(x, a.dim, i, s),
    errors: [{ what: 'a negative index', run: (d) => t2(d, 3).scatterAdd(0, torch.tensor([-1], { device: d }), t2(d, 1)), match: /out of (bounds|range)/, type: IndexError }],
  },
  {
    name: 'indexSelect', api: ['indexSelect'], diff: true,
    method: ([x, i], a) => x.indexSelect(a.dim, i), fn: ([x, i], a) => torch.indexSelect(x, a.dim, i),
    errors: [
      { what: 'a 2-D index', run: (d) => t2(d, 3).indexSelect(0, torch.tensor([[0]], { device: d })), match: /0-d or 1-d.*\[1, 1\]/, type: ShapeError },
      { what: 'an index out of range', run: (d) => t2(d, 3).indexSelect(0, torch.tensor([0, 3], { device: d })), match: /out of (bounds|range)/, type: IndexError },
    ],
  },
  {
    name: 'maskedSelect', api: ['maskedSelect'], diff: true,
    method: ([x, m]) => x.maskedSelect(m), fn: ([x, m]) => torch.maskedSelect(x, m),
  },
  { name: 'nonzero', api: ['nonzero'], diff: false, method: ([x]) => x.nonzero(), fn: ([x]) => torch.nonzero(x) },
];

// ---------------------------------------------------------------- in place

function inplaceEntry(name: string, call: (x: Tensor, v: any[], a: Record<string, any>) => Tensor, extra: Partial<OpEntry> = {}): OpEntry {
  return {
    name, api: [name], diff: true,
    method: (v, a) => {
      const x = v[0].clone();
      const r = call(x, v, a);
      if (r !== x) throw new Error(`${name} must return this`);
      return x;
    },
    ...extra,
  };
}
const inplace: OpEntry[] = [
  {
    name: 'inplaceView', api: ['add_', 'sub_', 'mul_', 'div_', 'zero_', 'fill_', 'copy_', 'clamp_'], diff: false,
    method: (v, a) => {
      const base = v[0].clone();
      const view = applyView(base, a.view) as any;
      if (a.op === 'zero_') view.zero_();
      else if (a.op === 'clamp_') view.clamp_(v[1], v[2]);
      else view[a.op](v[1]);
      return base;
    },
  },
  inplaceEntry('add_', (x, v, a) => x.add_(v[1], opt({ alpha: a.alpha })), {
    errors: [
      { what: 'a result that does not fit', run: (d) => t2(d, 3).add_(t2(d, 2, 3)), match: /\[3\].*\[2, 3\]/, type: ShapeError },
      { what: 'a float result into an int tensor', run: (d) => torch.ones([3], { dtype: 'int64', device: d }).add_(1.5), match: /float32.*int64/, type: DTypeError },
      { what: 'a leaf that requires grad', run: (d) => torch.ones([3], { device: d, requiresGrad: true }).add_(1), match: /leaf.*requires grad/ },
    ],
  }),
  inplaceEntry('sub_', (x, v, a) => x.sub_(v[1], opt({ alpha: a.alpha }))),
  inplaceEntry('mul_', (x, v) => x.mul_(v[1])),
  inplaceEntry('div_', (x, v) => x.div_(v[1])),
  inplaceEntry('zero_', (x) => x.zero_()),
  inplaceEntry('fill_', (x, v) => x.fill_(v[1]), {
    errors: [{ what: 'a non-scalar value tensor', run: (d) => t2(d, 3).fill_(t2(d, 2)), match: /0-dim.*\[2\]/, type: ShapeError }],
  }),
  inplaceEntry('copy_', (x, v) => x.copy_(v[1]), {
    errors: [{ what: 'a source that does not broadcast', run: (d) => t2(d, 2, 3).copy_(t2(d, 2)), match: /\[2\].*\[2, 3\]/, type: ShapeError, op: 'expand' }],
  }),
  inplaceEntry('clamp_', (x, v) => x.clamp_(v[1], v[2])),
];

// ---------------------------------------------------------------- conversion

const conversion: OpEntry[] = [
  {
    name: 'to', api: ['to', 'type'], diff: true,
    method: ([x], a) => x.to(a.dtype), fn: ([x], a, d) => x.to({ dtype: a.dtype, device: d }),
    errors: [
      { what: 'an unknown dtype', run: (d) => t2(d, 2).to({ dtype: 'float8' as DType }), match: /unknown dtype 'float8'/ },
      { what: 'an unknown device', run: (d) => t2(d, 2).to('tpu'), match: /unknown device 'tpu'/, type: DeviceError },
    ],
  },
  ...(['float', 'double', 'int', 'long', 'bool'] as const).map((n): OpEntry => ({
    name: n, api: [n], diff: true, method: ([x]) => (x as any)[n](),
  })),
  { name: 'type', api: ['type'], diff: true, method: ([x], a) => x.type(a.dtype) },
];

// ---------------------------------------------------------------- creation (no tensor inputs: the device comes from the runner)

const dopt = (a: Record<string, any>, d: string) => ({ device: d, ...(a.dtype ? { dtype: a.dtype } : {}) });
const creation: OpEntry[] = [
  {
    name: 'arange', api: ['arange'], diff: false, fn: (_v, a, d) => torch.arange(...a.args, dopt(a, d)),
    errors: [{ what: 'a step of the wrong sign', run: (d) => torch.arange(0, 5, -1, { device: d }), match: /inconsistent with step sign/ }],
  },
  { name: 'linspace', api: ['linspace'], diff: false, fn: (_v, a, d) => torch.linspace(a.args[0], a.args[1], a.args[2], dopt(a, d)) },
  { name: 'eye', api: ['eye'], diff: false, fn: (_v, a, d) => (a.args.length > 1 ? torch.eye(a.args[0], a.args[1], dopt(a, d)) : torch.eye(a.args[0], dopt(a, d))) },
  { name: 'full', api: ['full'], diff: false, fn: (_v, a, d) => torch.full(a.shape, a.value, dopt(a, d)) },
  {
    name: 'zeros', api: ['zeros', 'empty'], diff: false,
    method: (_v, a, d) => torch.zeros(...a.shape, dopt(a, d)), fn: (_v, a, d) => torch.zeros(a.shape, dopt(a, d)),
    errors: [
      { what: 'a negative size', run: (d) => torch.zeros([2, -1], { device: d }), match: /non-negative.*\[2, -1\]/, type: ShapeError },
      { what: 'an unknown dtype', run: (d) => torch.zeros([2], { device: d, dtype: 'int8' as DType }), match: /unknown dtype 'int8'/, type: DTypeError },
      { what: 'an unavailable device', run: () => torch.zeros([2], { device: 'opencl:7' }), match: /opencl/, type: DeviceError },
      { what: 'a malformed device', run: () => torch.zeros([2], { device: 'gpu0' }), match: /unknown device 'gpu0'/, type: DeviceError },
    ],
  },
  { name: 'ones', api: ['ones'], diff: false, method: (_v, a, d) => torch.ones(...a.shape, dopt(a, d)), fn: (_v, a, d) => torch.ones(a.shape, dopt(a, d)) },
  { name: 'zerosLike', api: ['zerosLike'], diff: false, fn: ([x], a) => torch.zerosLike(x, a.dtype ? { dtype: a.dtype } : undefined) },
  { name: 'onesLike', api: ['onesLike'], diff: false, fn: ([x], a) => torch.onesLike(x, a.dtype ? { dtype: a.dtype } : undefined) },
  { name: 'fullLike', api: ['fullLike'], diff: false, fn: ([x], a) => torch.fullLike(x, a.value) },
  {
    name: 'tensor', api: ['tensor'], diff: false, fn: (_v, a, d) => torch.tensor(a.data, dopt(a, d)),
    errors: [{ what: 'ragged data', run: (d) => torch.tensor([[1, 2], [3]] as any, { device: d }), match: /length 2.*length 1|rectangular/, type: ShapeError }],
  },
];

export const OP_TABLE: OpEntry[] = [...math, ...reductions, ...shape, ...indexing, ...inplace, ...conversion, ...creation];

/** API.md Tensor-section names; every one must be exercised by an entry (or a test in core-tensor). */
export const API_TENSOR_OPS = [
  'add', 'sub', 'mul', 'div', 'pow', 'neg', 'abs', 'sign', 'exp', 'log', 'log1p', 'expm1', 'sqrt', 'rsqrt', 'sin', 'cos', 'tanh',
  'sigmoid', 'relu', 'gelu', 'silu', 'softplus', 'clamp', 'maximum', 'minimum', 'floor', 'ceil', 'round', 'reciprocal', 'square',
  'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalNot', 'logicalAnd', 'logicalOr', 'matmul', 'mm', 'bmm', 'dot', 'outer', 'where',
  'maskedFill', 'lerp', 'addcmul', 'isnan', 'isfinite',
  'sum', 'mean', 'prod', 'var', 'std', 'norm', 'logsumexp', 'amax', 'amin', 'argmax', 'argmin', 'all', 'any', 'cumsum',
  'softmax', 'logSoftmax', 'max', 'min', 'sort', 'topk',
  'reshape', 'view', 'flatten', 'unflatten', 'squeeze', 'unsqueeze', 'transpose', 't', 'permute', 'expand', 'expandAs',
  'narrow', 'select', 'unfold', 'split', 'chunk', 'repeat', 'flip', 'roll', 'tril', 'triu', 'cat', 'stack',
  'index', 'indexPut_', 'gather', 'scatter', 'scatterAdd', 'indexSelect',
  'add_', 'sub_', 'mul_', 'div_', 'zero_', 'fill_', 'copy_', 'clamp_',
  'to', 'float', 'double', 'int', 'long', 'bool', 'type',
  'contiguous', 'clone', 'detach',
  'tensor', 'zeros', 'ones', 'full', 'empty', 'zerosLike', 'onesLike', 'fullLike', 'arange', 'linspace', 'eye',
];
