#!/usr/bin/python3
"""Writes the PyTorch reference fixtures for the core op table (test/optable/) into
test/fixtures/core/.

Run with Debian's interpreter, the one python3-torch is installed for (`npm run fixtures`):
    /usr/bin/python3 scripts/gen_fixtures.py

Every op row here mirrors one entry of test/optable/table.ts: the same name, the same call
(written as the PyTorch method the TS entry calls), and the samples the TS runner replays.
A sample is deterministic (seeded by a hash of `op/sample`), so adding a sample leaves the
others' values unchanged.

Files written:
  ops.json        per op: samples with inputs (values, shape, dtype, and a `view` recipe the TS
                  side replays: transpose / slice / expand / permute / select / narrow), args,
                  the output (or the error PyTorch raised), whether the output shares storage
                  with the first input, a fixed upstream gradient and the input gradients
  promotion.json  torch.result_type for every dtype pair, as tensor/tensor, tensor/0-d tensor
                  and tensor/scalar operands
  printing.json   repr() of ~35 tensors (fixed, sci and int modes, summaries, grad_fn, dtypes)
  autograd.json   first and second derivatives (create_graph) of ~18 functions, for fixed
                  upstream gradients

Values are encoded as JSON numbers, with 'nan', 'inf' and '-inf' as strings; bool as 0/1;
float32 values with 9 significant digits (exact for float32).
"""
import json
import math
import os
import sys
import zlib

import torch
import torch.nn.functional as F

from fixture_util import DTYPE_NAMES as DT, f32, fixture_dir, nonfinite

OUT = fixture_dir('core')
TD = {v: k for k, v in DT.items()}
nan, inf = float('nan'), float('inf')


# ---------------------------------------------------------------- encoding

def enc_num(v, dtype):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if not math.isfinite(v):
        return nonfinite(v)
    if dtype == torch.float64:
        return v
    r = f32(v)
    return int(r) if r.is_integer() and abs(r) < 2 ** 53 and not (r == 0 and math.copysign(1, r) < 0) else r


def enc_tensor(t):
    t = t.detach()
    flat = t.reshape(-1)
    if t.dtype in (torch.float16, torch.bfloat16):
        flat = flat.float()
    vals = [enc_num(v, t.dtype) for v in flat.tolist()]
    return {'shape': list(t.shape), 'dtype': DT[t.dtype], 'values': vals}


def enc_out(o):
    if isinstance(o, torch.Tensor):
        return enc_tensor(o)
    if isinstance(o, (list, tuple)) and hasattr(o, 'values') and hasattr(o, 'indices'):
        return {'tuple': {'values': enc_tensor(o.values), 'indices': enc_tensor(o.indices)}}
    if isinstance(o, (list, tuple)):
        return {'list': [enc_out(x) for x in o]}
    if isinstance(o, bool):
        return {'number': int(o)}
    if isinstance(o, (int, float)):
        return {'number': enc_num(o, torch.float64)}
    raise TypeError(type(o))


def out_tensors(o):
    """The tensors of an output, in order (tuple outputs: only `values`)."""
    if isinstance(o, torch.Tensor):
        return [o]
    if hasattr(o, 'values') and hasattr(o, 'indices'):
        return [o.values]
    if isinstance(o, (list, tuple)):
        return [x for x in o if isinstance(x, torch.Tensor)]
    return []


# ---------------------------------------------------------------- inputs

class In:
    """A tensor input: a base tensor (shape, dtype, values from `gen`) and a view recipe."""

    def __init__(self, shape, dtype='float32', gen='randn', values=None, view=None, grad=None):
        self.shape, self.dtype, self.gen, self.values, self.view, self.grad = list(shape), dtype, gen, values, view or [], grad


class S:
    """A JS number/boolean operand. Floats must be non-integral (JS cannot tell 2.0 from 2)."""

    def __init__(self, v):
        if isinstance(v, float) and math.isfinite(v) and v.is_integer():
            raise ValueError('float scalars must be non-integral, JS would read %r as an int' % v)
        self.v = v


def generate(gen, shape, dtype, g):
    n = 1
    for s in shape:
        n *= s
    dt = TD[dtype]
    if gen == 'randn':
        t = torch.randn(n, generator=g, dtype=torch.float64)
    elif gen == 'pos':  # away from 0: log, sqrt, div
        t = torch.rand(n, generator=g, dtype=torch.float64) * 1.5 + 0.5
    elif gen == 'unit':  # (-0.9, 0.9)
        t = torch.rand(n, generator=g, dtype=torch.float64) * 1.8 - 0.9
    elif gen == 'int':  # small integers, ties likely
        t = torch.randint(-4, 5, (n,), generator=g).double()
    elif gen == 'nonneg':
        t = torch.randint(0, 6, (n,), generator=g).double()
    elif gen == 'nonzero_int':
        t = torch.randint(1, 5, (n,), generator=g).double() * (torch.randint(0, 2, (n,), generator=g) * 2 - 1)
    elif gen == 'bool':
        t = torch.randint(0, 2, (n,), generator=g).double()
    elif gen == 'distinct':  # a permutation of well separated values: no ties for sort/max
        t = (torch.randperm(n, generator=g).double() - n / 2) * 0.37 + 0.1
    elif gen.startswith('idx:'):  # indices in [0, k)
        t = torch.randint(0, int(gen[4:]), (n,), generator=g).double()
    else:
        raise ValueError(gen)
    if dt == torch.bool:
        t = t != 0
    return t.to(dt).reshape(shape)


def apply_view(x, steps):
    for st in steps:
        op, args = st[0], st[1:]
        if op == 'slice':
            dim, start, stop, step = args
            x = x[(slice(None),) * dim + (slice(start, stop, step),)]
        else:
            x = getattr(x, op)(*args)
    return x


def make_input(spec, g, diff):
    if isinstance(spec, S):
        v = spec.v
        return v, None, {'scalar': v if v is None or isinstance(v, bool) else enc_num(v, torch.float64)}
    if spec.values is not None:
        base = torch.tensor(spec.values, dtype=TD[spec.dtype]).reshape(spec.shape)
    else:
        base = generate(spec.gen, spec.shape, spec.dtype, g)
    grad = spec.grad if spec.grad is not None else (diff and base.dtype.is_floating_point)
    rec = enc_tensor(base)
    if spec.view:
        rec['view'] = spec.view
    rec['grad'] = bool(grad)
    leaf = base.clone().requires_grad_(True) if grad else base.clone()
    return apply_view(leaf, spec.view), (leaf if grad else None), rec


# ---------------------------------------------------------------- op rows

OPS = {}


def sample(sid, inputs, args=None, gc=True):
    return {'id': sid, 'inputs': inputs, 'args': args or {}, 'gc': gc}


def op(name, fn, samples, diff=True):
    OPS[name] = {'fn': fn, 'samples': samples, 'diff': diff}


def storage_ptr(t):
    return t.storage().data_ptr()


def run_sample(name, row, smp):
    g = torch.Generator().manual_seed(zlib.crc32(('%s/%s' % (name, smp['id'])).encode()))
    built = [make_input(s, g, row['diff']) for s in smp['inputs']]
    vals = [b[0] for b in built]
    leaves = [b[1] for b in built]
    rec = {'id': smp['id'], 'inputs': [b[2] for b in built], 'args': smp['args']}
    if not smp['gc']:
        rec['gc'] = False
    try:
        out = row['fn'](vals, smp['args'])
    except Exception as e:  # PyTorch refuses: torchlet must refuse too
        rec['error'] = str(e).split('\n')[0][:200]
        return rec
    rec['out'] = enc_out(out)
    # storage sharing with the first tensor input (only meaningful for non-empty tensors)
    first = next((v for v in vals if isinstance(v, torch.Tensor)), None)
    outs = out_tensors(out)
    named_tuple = not isinstance(out, torch.Tensor) and hasattr(out, 'values') and hasattr(out, 'indices')
    if first is not None and first.numel() > 0 and outs and not named_tuple:
        rec['shares'] = [storage_ptr(o) == storage_ptr(first) if o.numel() > 0 else None for o in outs]
    # gradients for a fixed upstream gradient
    diff_leaves = [l for l in leaves if l is not None]
    douts = [o for o in outs if o.requires_grad]
    if row['diff'] and diff_leaves and douts:
        gouts = [generate('randn', list(o.shape), DT[o.dtype], g) for o in douts]
        try:
            grads = torch.autograd.grad(douts, diff_leaves, gouts, allow_unused=True)
        except RuntimeError:  # a PyTorch 1.13 backward bug (e.g. var of one element): no reference
            return rec
        it = iter(grads)
        rec['gout'] = [enc_tensor(x) for x in gouts]
        rec['grads'] = [(None if (gr := next(it)) is None else enc_tensor(gr)) if l is not None else None for l in leaves]
    return rec


# ---------------------------------------------------------------- sample families

SPECIAL = [nan, inf, -inf, 0.0, -0.0, 1.5, -2.5]


def unary_samples(dom='randn', ints=True, special=True, extra=()):
    s = [
        sample('basic', [In([2, 3], gen=dom)]),
        sample('zero_d', [In([], gen=dom)]),
        sample('empty', [In([0, 3], gen=dom)]),
        sample('odd37', [In([37], gen=dom)]),
        sample('transposed', [In([3, 4], gen=dom, view=[['transpose', 0, 1]])]),
        sample('sliced', [In([4, 6], gen=dom, view=[['slice', 1, 1, 6, 2]])]),
        sample('expanded', [In([1, 5], gen=dom, view=[['expand', [3, 5]]])]),
        sample('float64', [In([2, 3], 'float64', gen=dom)]),
    ]
    if special:
        s.append(sample('nan_inf', [In([7], values=SPECIAL)], gc=False))
    s.append(sample('float16', [In([5], 'float16', gen=dom)], gc=False))
    s.append(sample('bfloat16', [In([5], 'bfloat16', gen=dom)], gc=False))
    if ints:
        s.append(sample('int64', [In([5], 'int64', gen='int')]))
        s.append(sample('int32', [In([2, 2], 'int32', gen='int')]))
    return s + list(extra)


def binary_samples(da='randn', db='randn', ints=True, special=True, scalars=True, bool_ok=True, extra=()):
    s = [
        sample('basic', [In([2, 3], gen=da), In([2, 3], gen=db)]),
        sample('broadcast', [In([2, 1, 3], gen=da), In([4, 1], gen=db)]),
        sample('zero_d', [In([], gen=da), In([], gen=db)]),
        sample('vec_0d', [In([3], gen=da), In([], gen=db)]),
        sample('empty', [In([0, 3], gen=da), In([3], gen=db)]),
        sample('odd13', [In([13], gen=da), In([13], gen=db)]),
        sample('transposed', [In([3, 4], gen=da, view=[['transpose', 0, 1]]), In([4, 3], gen=db)]),
        sample('sliced', [In([4, 6], gen=da, view=[['slice', 1, 0, 6, 2]]), In([4, 6], gen=db, view=[['narrow', 1, 2, 3]])]),
        sample('expanded', [In([1, 4], gen=da, view=[['expand', [3, 4]]]), In([3, 1], gen=db, view=[['expand', [3, 4]]])]),
        sample('float64', [In([2, 3], 'float64', gen=da), In([2, 3], 'float64', gen=db)]),
        sample('f32_0d_f64', [In([4], gen=da), In([], 'float64', gen=db)]),
        sample('f64_f32', [In([4], 'float64', gen=da), In([4], gen=db)]),
    ]
    if special:
        s.append(sample('nan_inf', [In([7], values=SPECIAL), In([7], values=[1.5, nan, -inf, 2.5, inf, 0.0, -0.5])], gc=False))
    if scalars:
        s.append(sample('scalar_float', [In([2, 3], gen=da), S(2.5 if db != 'unit' else 0.25)]))
        s.append(sample('scalar_int', [In([2, 3], gen=da), S(3)]))
    if ints:
        s += [
            sample('int64_f32', [In([4], 'int64', gen='nonzero_int'), In([4], gen=db)]),
            sample('int32_int64', [In([4], 'int32', gen='nonzero_int'), In([4], 'int64', gen='nonzero_int')]),
        ]
        if scalars:
            s += [
                sample('int_scalar_float', [In([4], 'int64', gen='nonzero_int'), S(2.5)]),
                sample('int32_scalar_int', [In([4], 'int32', gen='nonzero_int'), S(2)]),
            ]
        if bool_ok:
            s.append(sample('bool_int64', [In([4], 'bool', gen='bool'), In([4], 'int64', gen='nonzero_int')]))
    return s + list(extra)


def compare_samples():
    return [
        sample('basic', [In([2, 3], gen='int'), In([2, 3], gen='int')]),
        sample('broadcast', [In([2, 1, 3], gen='int'), In([4, 1], gen='int')]),
        sample('zero_d', [In([], gen='int'), In([], gen='int')]),
        sample('empty', [In([0, 3]), In([3])]),
        sample('odd37', [In([37], gen='int'), In([37], gen='int')]),
        sample('transposed', [In([3, 4], gen='int', view=[['transpose', 0, 1]]), In([4, 3], gen='int')]),
        sample('nan_inf', [In([7], values=SPECIAL), In([7], values=[nan, inf, 0.0, -0.0, 0.0, 1.5, -inf])]),
        sample('scalar', [In([2, 3], gen='int'), S(1)]),
        sample('scalar_float', [In([2, 3], 'int64', gen='int'), S(0.5)]),
        sample('int_float', [In([5], 'int64', gen='int'), In([5], gen='int')]),
        sample('bool_int', [In([4], 'bool', gen='bool'), In([4], 'int64', gen='int')]),
        sample('float64', [In([2, 3], 'float64', gen='int'), In([2, 3], 'float64', gen='int')]),
    ]


def logical_samples():
    return [
        sample('bool', [In([2, 3], 'bool', gen='bool'), In([2, 3], 'bool', gen='bool')]),
        sample('broadcast', [In([2, 1, 3], 'bool', gen='bool'), In([4, 1], 'bool', gen='bool')]),
        sample('zero_d', [In([], 'bool', gen='bool'), In([], 'bool', gen='bool')]),
        sample('float', [In([6], values=[0.0, 1.5, nan, -0.0, inf, 0.0]), In([6], values=[1.0, 0.0, 2.0, 3.0, 0.0, 0.0])]),
        sample('int', [In([5], 'int64', gen='int'), In([5], 'int32', gen='int')]),
        sample('empty', [In([0], 'bool'), In([0], 'bool')]),
        sample('odd13', [In([13], 'bool', gen='bool'), In([13], 'bool', gen='bool')]),
    ]


def reduce_samples(gen='randn', dims=True, ints=True, special=True, dim_arg='dim'):
    s = [
        sample('all', [In([2, 3], gen=gen)]),
        sample('zero_d', [In([], gen=gen)]),
        sample('odd37', [In([37], gen=gen)]),
        sample('transposed_all', [In([3, 5], gen=gen, view=[['transpose', 0, 1]])]),
        sample('float64', [In([3, 4], 'float64', gen=gen)]),
    ]
    if dims:
        s += [
            sample('dim0', [In([3, 4], gen=gen)], {dim_arg: 0}),
            sample('dim_neg_keep', [In([2, 3, 4], gen=gen)], {dim_arg: -1, 'keepdim': True}),
            sample('dim1_3d', [In([2, 3, 4], gen=gen)], {dim_arg: 1}),
            sample('sliced_dim', [In([4, 6], gen=gen, view=[['slice', 1, 1, 6, 2]])], {dim_arg: 1}),
            sample('zero_d_dim', [In([], gen=gen)], {dim_arg: 0}),
            sample('empty_dim', [In([0, 3], gen=gen)], {dim_arg: 1}),
            sample('dim_oob', [In([2, 3], gen=gen)], {dim_arg: 2}),
        ]
    if special:
        s.append(sample('nan_inf', [In([2, 4], values=[[1.5, nan, 0.5, -1.0], [inf, 2.0, -inf, 0.25]])], {dim_arg: 1} if dims else {}, gc=False))
    if ints:
        s.append(sample('int64', [In([2, 3], 'int64', gen='int')]))
        s.append(sample('bool', [In([5], 'bool', gen='bool')]))
    return s


def dims_list_samples(gen='randn'):
    return [
        sample('dims_list', [In([2, 3, 4], gen=gen)], {'dim': [0, 2]}),
        sample('dims_list_keep', [In([2, 3, 4], gen=gen)], {'dim': [0, 2], 'keepdim': True}),
        sample('dims_neg', [In([2, 3, 4], gen=gen)], {'dim': [-1, -2]}),
        sample('empty_all', [In([0, 3], gen=gen)]),
        sample('expanded_dim', [In([1, 4], gen=gen, view=[['expand', [3, 4]]])], {'dim': 0}),
        sample('dims_dup', [In([2, 3], gen=gen)], {'dim': [0, 0]}),
    ]


def kw(a, *names):
    return {k: a[k] for k in names if k in a}


# ---------------------------------------------------------------- math: unary

UNARY = {
    # name: (python call, domain, ints ok, differentiable)
    'neg': (lambda x: x.neg(), 'randn'),
    'abs': (lambda x: x.abs(), 'randn'),
    'sign': (lambda x: x.sign(), 'randn'),
    'exp': (lambda x: x.exp(), 'randn'),
    'log': (lambda x: x.log(), 'pos'),
    'log1p': (lambda x: x.log1p(), 'pos'),
    'expm1': (lambda x: x.expm1(), 'randn'),
    'sqrt': (lambda x: x.sqrt(), 'pos'),
    'rsqrt': (lambda x: x.rsqrt(), 'pos'),
    'sin': (lambda x: x.sin(), 'randn'),
    'cos': (lambda x: x.cos(), 'randn'),
    'tanh': (lambda x: x.tanh(), 'randn'),
    'sigmoid': (lambda x: x.sigmoid(), 'randn'),
    'relu': (lambda x: x.relu(), 'randn'),
    'gelu': (lambda x: F.gelu(x), 'randn'),
    'silu': (lambda x: F.silu(x), 'randn'),
    'softplus': (lambda x: F.softplus(x), 'randn'),
    'erf': (lambda x: x.erf(), 'randn'),
    'floor': (lambda x: x.floor(), 'randn'),
    'ceil': (lambda x: x.ceil(), 'randn'),
    'round': (lambda x: x.round(), 'randn'),
    'trunc': (lambda x: x.trunc(), 'randn'),
    'reciprocal': (lambda x: x.reciprocal(), 'pos'),
    'square': (lambda x: x.square(), 'randn'),
    'isnan': (lambda x: x.isnan(), 'randn'),
    'isfinite': (lambda x: x.isfinite(), 'randn'),
    'logicalNot': (lambda x: x.logical_not(), 'int'),
}
NONDIFF = {'sign', 'floor', 'ceil', 'round', 'trunc', 'isnan', 'isfinite', 'logicalNot'}
# ops PyTorch defines only for floats (int input raises) we still sample: the error must match
for _name, (_f, _dom) in UNARY.items():
    extra = []
    if _name == 'round':
        extra.append(sample('halves', [In([8], values=[0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, -2.5001, 3.5])]))
    if _name in ('relu', 'abs'):
        extra.append(sample('at_zero', [In([5], values=[0.0, -0.0, 1.5, -1.5, 0.0])], gc=False))
    if _name in ('logicalNot', 'isnan', 'isfinite', 'abs', 'neg', 'sign'):
        extra.append(sample('bool', [In([4], 'bool', gen='bool')]))
    if _name in ('softplus', 'sigmoid', 'tanh', 'exp', 'gelu', 'silu'):
        extra.append(sample('large', [In([6], values=[-100.0, -30.0, -20.5, 20.5, 30.0, 88.5])], gc=False))
    op(_name, (lambda f: lambda i, a: f(i[0]))(_f), unary_samples(_dom, extra=extra), diff=_name not in NONDIFF)

op('geluTanh', lambda i, a: F.gelu(i[0], approximate='tanh'), unary_samples('randn', ints=False))
op('softplusBeta', lambda i, a: F.softplus(i[0], beta=a['beta'], threshold=a['threshold']), [
    sample('basic', [In([2, 3])], {'beta': 2, 'threshold': 1.5}),
    sample('large', [In([6], values=[-10.0, -0.5, 0.25, 0.74, 0.76, 5.5])], {'beta': 2, 'threshold': 1.5}, gc=False),
    sample('float64', [In([5], 'float64')], {'beta': 0.5, 'threshold': 20}),
])

# ---------------------------------------------------------------- math: binary

def alpha_kw(a):
    return {'alpha': a['alpha']} if 'alpha' in a else {}


op('add', lambda i, a: i[0].add(i[1], **alpha_kw(a)), binary_samples(extra=[
    sample('alpha', [In([2, 3]), In([3])], {'alpha': 2.5}),
    sample('alpha_int', [In([3], 'int64', gen='int'), In([3], 'int64', gen='int')], {'alpha': 3}),
    sample('bool_bool', [In([4], 'bool', gen='bool'), In([4], 'bool', gen='bool')]),
    sample('float16', [In([5], 'float16'), In([5], 'float16')]),
    sample('bfloat16_f16', [In([5], 'bfloat16'), In([5], 'float16')]),
    sample('uint8_int32', [In([4], 'uint8', gen='nonneg'), In([4], 'int32', gen='int')]),
    sample('bool_scalar_float', [In([4], 'bool', gen='bool'), S(0.5)]),
    sample('0d_int64_f32', [In([], 'int64', gen='int'), In([3])]),
    sample('int32_overflow', [In([3], 'int32', values=[2147483647, -2147483648, 5]), In([3], 'int32', values=[1, -1, 2147483647])]),
    sample('uint8_wrap', [In([3], 'uint8', values=[250, 0, 128]), In([3], 'uint8', values=[10, 255, 128])]),
    sample('int64_large', [In([2], 'int64', values=[10 ** 15, -(10 ** 15)]), In([2], 'int64', values=[123456789, 1])]),
    sample('empty_bcast', [In([0, 3]), In([1, 3])]),
    sample('empty_bcast2', [In([2, 0]), In([2, 1])]),
    sample('large', [In([33, 65]), In([65])]),
    sample('f16_0d_f32', [In([3], 'float16'), In([], 'float32')]),
    sample('shape_mismatch', [In([2, 3]), In([4])]),
]))
op('sub', lambda i, a: i[0].sub(i[1], **alpha_kw(a)), binary_samples(bool_ok=False, extra=[
    sample('alpha', [In([2, 3]), In([3])], {'alpha': -1.5}),
    sample('bool_bool', [In([4], 'bool', gen='bool'), In([4], 'bool', gen='bool')]),
]))
op('mul', lambda i, a: i[0].mul(i[0] if a.get('same') else i[1]), binary_samples(extra=[
    sample('bool_bool', [In([4], 'bool', gen='bool'), In([4], 'bool', gen='bool')]),
    sample('same_tensor', [In([3]), S(None)], {'same': True}),
    sample('int32_overflow', [In([2], 'int32', values=[65536, -65536]), In([2], 'int32', values=[65536, 65537])]),
    sample('uint8_wrap', [In([2], 'uint8', values=[16, 200]), In([2], 'uint8', values=[16, 2])]),
]))
op('div', lambda i, a: i[0].div(i[1], **kw(a, 'rounding_mode')), binary_samples('randn', 'pos', extra=[
    sample('by_zero', [In([4], values=[1.5, -1.5, 0.0, 2.0]), In([4], values=[0.0, 0.0, 0.0, -0.0])], gc=False),
    sample('int_int', [In([5], 'int64', gen='int'), In([5], 'int64', gen='nonzero_int')]),
    sample('int_by_zero', [In([3], 'int64', values=[1, -1, 0]), In([3], 'int64', values=[0, 0, 0])]),
    sample('trunc', [In([6], gen='randn'), In([6], gen='unit')], {'rounding_mode': 'trunc'}),
    sample('floor', [In([6], gen='randn'), In([6], gen='unit')], {'rounding_mode': 'floor'}),
    sample('int_floor', [In([6], 'int64', values=[7, -7, 7, -7, 0, 5]), In([6], 'int64', values=[2, 2, -2, -2, 3, 5])], {'rounding_mode': 'floor'}),
    sample('int_trunc', [In([6], 'int64', values=[7, -7, 7, -7, 0, 5]), In([6], 'int64', values=[2, 2, -2, -2, 3, 5])], {'rounding_mode': 'trunc'}),
]))
op('pow', lambda i, a: i[0].pow(i[1]), binary_samples('pos', 'randn', bool_ok=False, extra=[
    sample('int_int', [In([5], 'int64', values=[2, -3, 0, 1, 5]), In([5], 'int64', values=[3, 2, 0, 5, 1])]),
    sample('zero_base', [In([4], values=[0.0, 0.0, 0.0, 2.0]), In([4], values=[0.0, 1.0, 2.5, 0.0])], gc=False),
    sample('neg_base_int_exp', [In([3], values=[-2.0, -1.5, 3.0]), S(3)]),
    sample('scalar_half', [In([4], gen='pos'), S(0.5)]),
    sample('int_neg_exp', [In([3], 'int64', values=[2, 3, 1]), S(-1)]),
    sample('float_neg_exp', [In([3], gen='pos'), S(-2)]),
]))
op('maximum', lambda i, a: i[0].maximum(i[1]), binary_samples(scalars=False, extra=[
    sample('ties', [In([5], values=[1.0, 2.0, 3.0, -1.0, 0.0]), In([5], values=[1.0, 1.0, 3.0, 0.0, 0.0])], gc=False),
]))
op('minimum', lambda i, a: i[0].minimum(i[1]), binary_samples(scalars=False, extra=[
    sample('ties', [In([5], values=[1.0, 2.0, 3.0, -1.0, 0.0]), In([5], values=[1.0, 1.0, 3.0, 0.0, 0.0])], gc=False),
]))
op('atan2', lambda i, a: i[0].atan2(i[1]), binary_samples(scalars=False))
op('remainder', lambda i, a: i[0].remainder(i[1]), binary_samples('randn', 'pos', bool_ok=False, extra=[
    sample('signs', [In([4], 'int64', values=[7, -7, 7, -7]), In([4], 'int64', values=[3, 3, -3, -3])]),
    sample('signs_float', [In([4], values=[5.5, -5.5, 5.5, -5.5]), In([4], values=[2.0, 2.0, -2.0, -2.0])]),
]))
op('fmod', lambda i, a: i[0].fmod(i[1]), binary_samples('randn', 'pos', bool_ok=False, extra=[
    sample('signs', [In([4], 'int64', values=[7, -7, 7, -7]), In([4], 'int64', values=[3, 3, -3, -3])]),
    sample('signs_float', [In([4], values=[5.5, -5.5, 5.5, -5.5]), In([4], values=[2.0, 2.0, -2.0, -2.0])]),
]))
for _name, _pyname in [('eq', 'eq'), ('ne', 'ne'), ('lt', 'lt'), ('le', 'le'), ('gt', 'gt'), ('ge', 'ge')]:
    op(_name, (lambda n: lambda i, a: getattr(i[0], n)(i[1]))(_pyname), compare_samples(), diff=False)
for _name, _pyname in [('logicalAnd', 'logical_and'), ('logicalOr', 'logical_or'), ('logicalXor', 'logical_xor')]:
    op(_name, (lambda n: lambda i, a: getattr(i[0], n)(i[1]))(_pyname), logical_samples(), diff=False)

# ---------------------------------------------------------------- math: ternary and composites

op('where', lambda i, a: torch.where(i[0], i[1], i[2]), [
    sample('basic', [In([2, 3], 'bool', gen='bool'), In([2, 3]), In([2, 3])]),
    sample('broadcast', [In([3, 1], 'bool', gen='bool'), In([1, 4]), In([4])]),
    sample('zero_d', [In([], 'bool', gen='bool'), In([]), In([])]),
    sample('empty', [In([0, 2], 'bool', gen='bool'), In([0, 2]), In([2])]),
    sample('odd13', [In([13], 'bool', gen='bool'), In([13]), In([13])]),
    sample('scalar_other', [In([2, 3], 'bool', gen='bool'), In([2, 3]), S(0.5)]),
    sample('scalar_self', [In([2, 3], 'bool', gen='bool'), S(-1.5), In([2, 3])]),
    sample('transposed', [In([3, 2], 'bool', gen='bool', view=[['transpose', 0, 1]]), In([3, 2], view=[['transpose', 0, 1]]), In([2, 3])]),
    sample('promote', [In([4], 'bool', gen='bool'), In([4], 'int64', gen='int'), In([4], 'float64')]),
    sample('nan', [In([3], 'bool', values=[True, False, True]), In([3], values=[nan, nan, inf]), In([3], values=[1.5, -inf, nan])], gc=False),
])
op('maskedFill', lambda i, a: i[0].masked_fill(i[1], i[2]), [
    sample('basic', [In([2, 3]), In([2, 3], 'bool', gen='bool'), S(2.5)]),
    sample('broadcast_mask', [In([3, 4]), In([4], 'bool', gen='bool'), S(-1.5)]),
    sample('tensor_value', [In([2, 3]), In([2, 3], 'bool', gen='bool'), In([])]),
    sample('int_self', [In([5], 'int64', gen='int'), In([5], 'bool', gen='bool'), S(7)]),
    sample('nan_value', [In([4]), In([4], 'bool', values=[True, False, False, True]), S(nan)], gc=False),
    sample('zero_d', [In([]), In([], 'bool', values=True), S(0.5)]),
    sample('transposed', [In([4, 3], view=[['transpose', 0, 1]]), In([3, 4], 'bool', gen='bool'), S(0.25)]),
    sample('mask_not_bool', [In([3]), In([3], 'int64', gen='int'), S(0.5)]),
])
op('lerp', lambda i, a: i[0].lerp(i[1], i[2]), [
    sample('scalar_weight', [In([2, 3]), In([2, 3]), S(0.25)]),
    sample('tensor_weight', [In([2, 3]), In([2, 3]), In([2, 3], gen='unit')]),
    sample('broadcast', [In([3, 1]), In([4]), In([1, 4], gen='unit')]),
    sample('zero_d', [In([]), In([]), S(0.75)]),
    sample('float64', [In([4], 'float64'), In([4], 'float64'), In([4], 'float64', gen='unit')]),
])
op('addcmul', lambda i, a: i[0].addcmul(i[1], i[2], **kw(a, 'value')), [
    sample('basic', [In([2, 3]), In([2, 3]), In([2, 3])]),
    sample('value', [In([2, 3]), In([3]), In([2, 1])], {'value': 0.5}),
    sample('zero_d', [In([]), In([]), In([])], {'value': -2}),
    sample('float64', [In([4], 'float64'), In([4], 'float64'), In([4], 'float64')], {'value': 1.5}),
])
op('addcdiv', lambda i, a: i[0].addcdiv(i[1], i[2], **kw(a, 'value')), [
    sample('basic', [In([2, 3]), In([2, 3]), In([2, 3], gen='pos')]),
    sample('value', [In([2, 3]), In([3]), In([2, 1], gen='pos')], {'value': 0.5}),
    sample('float64', [In([4], 'float64'), In([4], 'float64'), In([4], 'float64', gen='pos')], {'value': -1.5}),
])


def clamp_call(i, a):
    lo = i[1] if len(i) > 1 else None
    hi = i[2] if len(i) > 2 else None
    return i[0].clamp(lo, hi)


op('clamp', clamp_call, [
    sample('both', [In([2, 3]), S(-0.5), S(0.5)]),
    sample('min_only', [In([2, 3]), S(-0.25)]),
    sample('max_only', [In([2, 3]), S(None), S(0.25)]),
    sample('tensor_bounds', [In([3, 4]), In([4], gen='unit'), In([3, 1], gen='pos')]),
    sample('at_bounds', [In([5], values=[-0.5, 0.5, 0.0, -1.0, 1.0]), S(-0.5), S(0.5)], gc=False),
    sample('int', [In([6], 'int64', gen='int'), S(-1), S(2)]),
    sample('int_float_bound', [In([6], 'int64', gen='int'), S(-1.5), S(2.5)]),
    sample('nan', [In([4], values=[nan, 1.5, -2.5, inf]), S(-1.25), S(1.25)], gc=False),
    sample('zero_d', [In([]), S(-0.1), S(0.1)]),
    sample('empty', [In([0, 2]), S(-0.1), S(0.1)]),
    sample('odd37', [In([37]), S(-0.75), S(0.75)]),
    sample('transposed', [In([3, 4], view=[['transpose', 0, 1]]), S(-0.75), S(0.75)]),
    sample('float64', [In([6], 'float64'), S(-0.75), S(0.75)]),
    sample('min_gt_max', [In([4]), S(0.5), S(-0.5)]),
])

# ---------------------------------------------------------------- linalg

op('matmul', lambda i, a: i[0].matmul(i[1]), [
    sample('mm', [In([2, 3]), In([3, 4])]),
    sample('dot', [In([5]), In([5])]),
    sample('mv', [In([3, 4]), In([4])]),
    sample('vm', [In([3]), In([3, 2])]),
    sample('batched_2d', [In([2, 3, 4]), In([4, 5])]),
    sample('2d_batched', [In([3, 4]), In([2, 4, 5])]),
    sample('broadcast_batch', [In([2, 1, 3, 4]), In([3, 4, 2])]),
    sample('batched_vec', [In([2, 3, 4]), In([4])]),
    sample('vec_batched', [In([3]), In([2, 3, 4])]),
    sample('transposed', [In([4, 3], view=[['transpose', 0, 1]]), In([5, 4], view=[['transpose', 0, 1]])]),
    sample('sliced', [In([3, 8], view=[['slice', 1, 0, 8, 2]]), In([4, 3])]),
    sample('expanded', [In([1, 3, 4], view=[['expand', [2, 3, 4]]]), In([2, 4, 2])]),
    sample('odd', [In([13, 7]), In([7, 9])]),
    sample('k_zero', [In([2, 0]), In([0, 3])]),
    sample('m_zero', [In([0, 3]), In([3, 2])]),
    sample('float64', [In([3, 5], 'float64'), In([5, 2], 'float64')]),
    sample('int64', [In([2, 3], 'int64', gen='int'), In([3, 2], 'int64', gen='int')]),
    sample('int32', [In([2, 3], 'int32', gen='int'), In([3, 2], 'int32', gen='int')]),
    sample('f32_f64', [In([2, 3]), In([3, 2], 'float64')]),
    sample('nan_inf', [In([2, 2], values=[[nan, 1.5], [inf, 0.5]]), In([2, 2], values=[[1.5, 0.0], [2.0, 1.0]])], gc=False),
    sample('large', [In([40, 70]), In([70, 30])]),
    sample('large_f64_t', [In([30, 40], 'float64', view=[['transpose', 0, 1]]), In([30, 50], 'float64')]),
    sample('shape_mismatch', [In([2, 3]), In([4, 2])]),
    sample('zero_d', [In([]), In([3])]),
    sample('int_float', [In([2, 3], 'int64', gen='int'), In([3, 2])]),
])
op('mm', lambda i, a: i[0].mm(i[1]), [
    sample('basic', [In([3, 4]), In([4, 2])]),
    sample('transposed', [In([4, 3], view=[['transpose', 0, 1]]), In([4, 2])]),
    sample('odd', [In([9, 13]), In([13, 5])]),
    sample('float64', [In([3, 4], 'float64'), In([4, 2], 'float64')]),
    sample('empty', [In([0, 4]), In([4, 2])]),
    sample('not_2d', [In([3]), In([3, 2])]),
    sample('mismatch', [In([3, 4]), In([3, 2])]),
])
op('bmm', lambda i, a: i[0].bmm(i[1]), [
    sample('basic', [In([2, 3, 4]), In([2, 4, 5])]),
    sample('transposed', [In([2, 4, 3], view=[['transpose', 1, 2]]), In([2, 4, 2])]),
    sample('float64', [In([3, 2, 2], 'float64'), In([3, 2, 3], 'float64')]),
    sample('empty_batch', [In([0, 2, 3]), In([0, 3, 4])]),
    sample('batch_mismatch', [In([2, 3, 4]), In([3, 4, 5])]),
    sample('not_3d', [In([3, 4]), In([4, 5])]),
])
op('dot', lambda i, a: i[0].dot(i[1]), [
    sample('basic', [In([5]), In([5])]),
    sample('odd37', [In([37]), In([37])]),
    sample('empty', [In([0]), In([0])]),
    sample('sliced', [In([10], view=[['slice', 0, 0, 10, 2]]), In([5])]),
    sample('float64', [In([4], 'float64'), In([4], 'float64')]),
    sample('int64', [In([4], 'int64', gen='int'), In([4], 'int64', gen='int')]),
    sample('mismatch', [In([3]), In([4])]),
    sample('not_1d', [In([2, 2]), In([4])]),
])
op('outer', lambda i, a: i[0].outer(i[1]), [
    sample('basic', [In([3]), In([4])]),
    sample('empty', [In([0]), In([3])]),
    sample('float64', [In([2], 'float64'), In([3], 'float64')]),
    sample('int', [In([3], 'int64', gen='int'), In([2], 'int64', gen='int')]),
    sample('mixed', [In([3], 'int64', gen='int'), In([2])]),
])

# ---------------------------------------------------------------- reductions


def red(method):
    def f(i, a):
        x = i[0]
        args = {}
        if 'dim' in a:
            args['dim'] = tuple(a['dim']) if isinstance(a['dim'], list) else a['dim']
        if 'keepdim' in a:
            args['keepdim'] = a['keepdim']
        return getattr(x, method)(**args)
    return f


op('sum', red('sum'), reduce_samples() + dims_list_samples() + [
    sample('large', [In([64, 33])], {'dim': 0}),
    sample('large_all', [In([3000], gen='unit')]),
    sample('large_transposed', [In([33, 64], view=[['transpose', 0, 1]])], {'dim': 1}),
    sample('int64_large', [In([3], 'int64', values=[10 ** 15, 10 ** 15, -3])]),
    sample('int32', [In([4], 'int32', gen='int')]),
    sample('uint8', [In([4], 'uint8', gen='nonneg')]),
])
op('mean', red('mean'), reduce_samples(ints=False) + dims_list_samples() + [
    sample('int64', [In([4], 'int64', gen='int')]),
])
op('prod', red('prod'), [
    sample('all', [In([2, 3])]),
    sample('zero_d', [In([])]),
    sample('dim0', [In([3, 4])], {'dim': 0}),
    sample('dim_keep', [In([2, 3, 4])], {'dim': -1, 'keepdim': True}),
    sample('one_zero', [In([2, 3], values=[[1.5, 0.0, 2.0], [0.5, -1.5, 3.0]])], {'dim': 1}),
    sample('two_zeros', [In([2, 3], values=[[0.0, 0.0, 2.0], [0.5, 0.0, 3.0]])], {'dim': 1}),
    sample('one_zero_all', [In([2, 2], values=[[1.5, 0.0], [2.0, -0.5]])]),
    sample('two_zeros_all', [In([2, 2], values=[[0.0, 0.0], [2.0, -0.5]])]),
    sample('odd13', [In([13], gen='unit')]),
    sample('empty', [In([0, 3])], {'dim': 0}),
    sample('transposed', [In([3, 4], view=[['transpose', 0, 1]])], {'dim': 1}),
    sample('float64', [In([5], 'float64')]),
    sample('int64', [In([4], 'int64', gen='nonzero_int')]),
    sample('int32', [In([2, 2], 'int32', gen='nonzero_int')], {'dim': 0}),
    sample('nan_inf', [In([4], values=[1.5, inf, -2.0, 0.5])], gc=False),
])


def var_call(method):
    def f(i, a):
        args = {}
        if 'dim' in a:
            args['dim'] = tuple(a['dim']) if isinstance(a['dim'], list) else a['dim']
        elif 'correction' in a:
            args['dim'] = None
        for k in ('correction', 'keepdim'):
            if k in a:
                args[k] = a[k]
        if 'unbiased' in a:
            args['unbiased'] = a['unbiased']
        return getattr(torch, method)(i[0], **args)
    return f


def var_samples():
    return [
        sample('all', [In([2, 3])]),
        sample('dim', [In([3, 4])], {'dim': 1}),
        sample('dims_keep', [In([2, 3, 4])], {'dim': [0, 2], 'keepdim': True}),
        sample('correction0', [In([5])], {'correction': 0}),
        sample('correction2', [In([3, 5])], {'dim': 1, 'correction': 2}),
        sample('unbiased_false', [In([6])], {'unbiased': False}),
        sample('correction_big', [In([3])], {'correction': 5}, gc=False),
        sample('large', [In([40, 30])], {'dim': 0}),
        sample('single', [In([1])], gc=False),
        sample('odd37', [In([37])]),
        sample('transposed', [In([3, 4], view=[['transpose', 0, 1]])], {'dim': 0}),
        sample('float64', [In([4, 3], 'float64')], {'dim': 0}),
        sample('zero_d', [In([])], gc=False),
        sample('int', [In([4], 'int64', gen='int')]),
        sample('nan', [In([3], values=[1.5, nan, 0.5])], gc=False),
    ]


op('var', var_call('var'), var_samples())
op('std', var_call('std'), var_samples())


def norm_call(i, a):
    p = a.get('p', 'fro')
    if isinstance(p, str) and p in ('inf', '-inf'):
        p = float(p)
    args = {}
    if 'dim' in a:
        args['dim'] = tuple(a['dim']) if isinstance(a['dim'], list) else a['dim']
    if 'keepdim' in a:
        args['keepdim'] = a['keepdim']
    return torch.linalg.vector_norm(i[0], ord=2 if p == 'fro' else p, dim=args.get('dim'), keepdim=args.get('keepdim', False))


op('norm', norm_call, [
    sample('default', [In([2, 3])]),
    sample('p1_dim', [In([3, 4])], {'p': 1, 'dim': 1}),
    sample('p2_dim_keep', [In([3, 4])], {'p': 2, 'dim': 0, 'keepdim': True}),
    sample('p3', [In([5], gen='pos')], {'p': 3}),
    sample('p_half', [In([5], gen='pos')], {'p': 0.5}),
    sample('inf', [In([2, 3], gen='distinct')], {'p': 'inf', 'dim': 1}),
    sample('neg_inf', [In([2, 3], gen='distinct')], {'p': '-inf', 'dim': 1}),
    sample('p0', [In([5], values=[0.0, 1.5, 0.0, -2.0, 3.0])], {'p': 0}, gc=False),
    sample('zero_vector', [In([2, 3], values=[[0.0, 0.0, 0.0], [1.0, 2.0, 2.0]])], {'dim': 1}, gc=False),
    sample('dims_list', [In([2, 3, 4])], {'dim': [1, 2]}),
    sample('zero_d', [In([])]),
    sample('odd37', [In([37])]),
    sample('transposed', [In([3, 4], view=[['transpose', 0, 1]])], {'dim': 1}),
    sample('float64', [In([3, 3], 'float64')], {'p': 2}),
    sample('empty', [In([0, 3])], {'dim': 0}),
    sample('int', [In([3], 'int64', gen='int')]),
    sample('nan_inf', [In([3], values=[1.5, inf, -0.5])], gc=False),
])
op('logsumexp', lambda i, a: torch.logsumexp(i[0], dim=tuple(a['dim']) if isinstance(a['dim'], list) else a['dim'], keepdim=a.get('keepdim', False)), [
    sample('dim1', [In([3, 4])], {'dim': 1}),
    sample('dim0_keep', [In([3, 4])], {'dim': 0, 'keepdim': True}),
    sample('dims', [In([2, 3, 4])], {'dim': [0, 2]}),
    sample('large', [In([2, 3], values=[[1000.0, 1000.5, 999.0], [-1000.0, -1001.5, -999.0]])], {'dim': 1}),
    sample('neg_inf_row', [In([2, 3], values=[[-inf, -inf, -inf], [0.5, -inf, 1.5]])], {'dim': 1}, gc=False),
    sample('inf', [In([3], values=[inf, 1.5, 0.0])], {'dim': 0}, gc=False),
    sample('zero_d', [In([])], {'dim': 0}),
    sample('odd37', [In([37])], {'dim': 0}),
    sample('transposed', [In([3, 4], view=[['transpose', 0, 1]])], {'dim': 1}),
    sample('float64', [In([3, 4], 'float64')], {'dim': 1}),
    sample('empty', [In([0, 3])], {'dim': 0}),
    sample('int', [In([2, 3], 'int64', gen='int')], {'dim': 1}),
    sample('dim_oob', [In([2, 3])], {'dim': 3}),
])
op('amax', red('amax'), reduce_samples('distinct', special=True) + dims_list_samples('distinct') + [
    sample('ties', [In([2, 3], values=[[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])], {'dim': 1}, gc=False),
    sample('ties_all', [In([4], values=[1.0, 3.0, 3.0, -1.0])], gc=False),
])
op('amin', red('amin'), reduce_samples('distinct', special=True) + dims_list_samples('distinct') + [
    sample('ties', [In([2, 3], values=[[1.0, -3.0, -3.0], [2.0, 2.0, 2.0]])], {'dim': 1}, gc=False),
])


def argred(method):
    def f(i, a):
        return getattr(i[0], method)(**{k: a[k] for k in ('dim', 'keepdim') if k in a})
    return f


def arg_samples():
    return [
        sample('all', [In([3, 4], gen='distinct')]),
        sample('dim0', [In([3, 4], gen='distinct')], {'dim': 0}),
        sample('dim_keep', [In([2, 3, 4], gen='distinct')], {'dim': -1, 'keepdim': True}),
        sample('ties_first', [In([2, 4], values=[[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]])], {'dim': 1}),
        sample('nan', [In([4], values=[1.0, nan, 3.0, nan])], {'dim': 0}),
        sample('zero_d', [In([])]),
        sample('zero_d_dim', [In([])], {'dim': 0}),
        sample('odd37', [In([37], gen='distinct')]),
        sample('transposed', [In([3, 4], gen='distinct', view=[['transpose', 0, 1]])], {'dim': 1}),
        sample('int', [In([5], 'int64', gen='int')], {'dim': 0}),
        sample('bool', [In([5], 'bool', gen='bool')], {'dim': 0}),
        sample('empty', [In([0])]),
        sample('keep_all', [In([2, 3], gen='distinct')], {'keepdim': True}),
    ]


op('argmax', argred('argmax'), arg_samples(), diff=False)
op('argmin', argred('argmin'), arg_samples(), diff=False)


def allany_samples():
    return [
        sample('bool', [In([2, 3], 'bool', gen='bool')]),
        sample('dim', [In([3, 4], 'bool', gen='bool')], {'dim': 1}),
        sample('dim_keep', [In([3, 4], 'bool', gen='bool')], {'dim': 0, 'keepdim': True}),
        sample('float', [In([4], values=[1.5, 0.0, nan, -0.0])]),
        sample('float_dim', [In([2, 2], values=[[1.5, 2.0], [0.0, 3.0]])], {'dim': 1}),
        sample('int', [In([4], 'int64', gen='int')]),
        sample('empty', [In([0], 'bool')]),
        sample('empty_dim', [In([0, 3], 'bool')], {'dim': 0}),
        sample('zero_d', [In([], 'bool', values=True)]),
        sample('all_true', [In([13], 'bool', values=[True] * 13)]),
        sample('all_false', [In([13], 'bool', values=[False] * 13)]),
        sample('transposed', [In([3, 4], 'bool', gen='bool', view=[['transpose', 0, 1]])], {'dim': 1}),
    ]


op('all', red('all'), allany_samples(), diff=False)
op('any', red('any'), allany_samples(), diff=False)
op('cumsum', lambda i, a: i[0].cumsum(a['dim']), [
    sample('vec', [In([5])], {'dim': 0}),
    sample('dim1', [In([3, 4])], {'dim': 1}),
    sample('dim_neg', [In([2, 3, 4])], {'dim': -2}),
    sample('zero_d', [In([])], {'dim': 0}),
    sample('empty', [In([0, 3])], {'dim': 0}),
    sample('odd37', [In([37])], {'dim': 0}),
    sample('transposed', [In([3, 4], view=[['transpose', 0, 1]])], {'dim': 1}),
    sample('large', [In([2, 1000], gen='unit')], {'dim': 1}),
    sample('float64', [In([6], 'float64')], {'dim': 0}),
    sample('int32', [In([5], 'int32', gen='int')], {'dim': 0}),
    sample('bool', [In([5], 'bool', gen='bool')], {'dim': 0}),
    sample('nan_inf', [In([5], values=[1.5, inf, -inf, 2.5, nan])], {'dim': 0}, gc=False),
    sample('dim_oob', [In([3])], {'dim': 1}),
])


def softmax_samples():
    return [
        sample('dim1', [In([3, 4])], {'dim': 1}),
        sample('dim0', [In([3, 4])], {'dim': 0}),
        sample('dim_neg_3d', [In([2, 3, 4])], {'dim': -1}),
        sample('large', [In([2, 3], values=[[1000.0, 1000.5, 999.0], [-1000.0, -1001.5, -999.0]])], {'dim': 1}),
        sample('neg_inf', [In([2, 3], values=[[-inf, 0.5, 1.5], [0.0, -inf, -inf]])], {'dim': 1}, gc=False),
        sample('all_neg_inf', [In([1, 3], values=[[-inf, -inf, -inf]])], {'dim': 1}, gc=False),
        sample('large', [In([17, 65])], {'dim': 1}),
        sample('zero_d', [In([])], {'dim': 0}),
        sample('empty', [In([0, 3])], {'dim': 1}),
        sample('odd37', [In([37])], {'dim': 0}),
        sample('transposed', [In([3, 4], view=[['transpose', 0, 1]])], {'dim': 1}),
        sample('expanded', [In([1, 4], view=[['expand', [3, 4]]])], {'dim': 1}),
        sample('float64', [In([3, 5], 'float64')], {'dim': 1}),
        sample('int', [In([2, 3], 'int64', gen='int')], {'dim': 1}),
        sample('dim_oob', [In([2, 3])], {'dim': 2}),
    ]


op('softmax', lambda i, a: i[0].softmax(a['dim']), softmax_samples())
op('logSoftmax', lambda i, a: i[0].log_softmax(a['dim']), softmax_samples())


def maxmin(method):
    def f(i, a):
        if 'dim' in a:
            return getattr(i[0], method)(a['dim'], keepdim=a.get('keepdim', False))
        if len(i) > 1:
            return getattr(i[0], method)(i[1])
        return getattr(i[0], method)()
    return f


def maxmin_samples():
    return [
        sample('all', [In([3, 4], gen='distinct')]),
        sample('all_ties', [In([4], values=[1.0, 3.0, 3.0, -1.0])], gc=False),
        sample('dim', [In([3, 4], gen='distinct')], {'dim': 1}),
        sample('dim_keep', [In([2, 3, 4], gen='distinct')], {'dim': 0, 'keepdim': True}),
        sample('zero_d', [In([])]),
        sample('zero_d_dim', [In([])], {'dim': 0}),
        sample('odd37', [In([37], gen='distinct')], {'dim': 0}),
        sample('transposed', [In([3, 4], gen='distinct', view=[['transpose', 0, 1]])], {'dim': 1}),
        sample('nan', [In([2, 3], values=[[1.0, nan, 3.0], [0.5, -1.0, 2.0]])], {'dim': 1}, gc=False),
        sample('nan_all', [In([3], values=[1.0, nan, 3.0])], gc=False),
        sample('int', [In([2, 3], 'int64', gen='int')], {'dim': 1}),
        sample('float64', [In([3, 4], 'float64', gen='distinct')], {'dim': 0}),
        sample('empty', [In([0])]),
        sample('empty_dim', [In([0, 3])], {'dim': 0}),
        sample('binary', [In([2, 3]), In([3])]),
    ]


op('max', maxmin('max'), maxmin_samples())
op('min', maxmin('min'), maxmin_samples())
op('sort', lambda i, a: torch.sort(i[0], dim=a.get('dim', -1), descending=a.get('descending', False), stable=True), [
    sample('default', [In([3, 5], gen='distinct')]),
    sample('dim0_desc', [In([4, 3], gen='distinct')], {'dim': 0, 'descending': True}),
    sample('ties_stable', [In([6], values=[2.0, 1.0, 2.0, 1.0, 0.0, 2.0])], gc=False),
    sample('ties_desc', [In([6], values=[2.0, 1.0, 2.0, 1.0, 0.0, 2.0])], {'descending': True}, gc=False),
    sample('nan_inf', [In([5], values=[nan, 1.5, -inf, inf, 0.0])], gc=False),
    sample('zero_d', [In([])]),
    sample('empty', [In([0])]),
    sample('odd37', [In([37], gen='distinct')]),
    sample('transposed', [In([3, 4], gen='distinct', view=[['transpose', 0, 1]])], {'dim': 1}),
    sample('nan_desc', [In([5], values=[nan, 1.5, -inf, inf, 0.0])], {'descending': True}, gc=False),
    sample('large', [In([3, 70], gen='distinct')], {'dim': 1}),
    sample('int', [In([7], 'int64', gen='int')], {'descending': True}),
    sample('float64', [In([5], 'float64', gen='distinct')]),
])
op('topk', lambda i, a: torch.topk(i[0], a['k'], dim=a.get('dim', -1), largest=a.get('largest', True)), [
    sample('basic', [In([7], gen='distinct')], {'k': 3}),
    sample('dim0', [In([5, 3], gen='distinct')], {'k': 2, 'dim': 0}),
    sample('smallest', [In([2, 6], gen='distinct')], {'k': 4, 'largest': False}),
    sample('k0', [In([4], gen='distinct')], {'k': 0}),
    sample('k_all', [In([4], gen='distinct')], {'k': 4}),
    sample('odd37', [In([37], gen='distinct')], {'k': 5}),
    sample('int', [In([6], 'int64', values=[3, -1, 7, 0, 5, -4])], {'k': 2}),
    sample('nan', [In([5], values=[1.5, nan, 0.5, 3.0, -1.0])], {'k': 2}, gc=False),
    sample('transposed', [In([4, 3], gen='distinct', view=[['transpose', 0, 1]])], {'k': 2, 'dim': 1}),
    sample('k_too_big', [In([3])], {'k': 4}),
])

# ---------------------------------------------------------------- shape and views

op('reshape', lambda i, a: i[0].reshape(a['shape']), [
    sample('basic', [In([2, 6])], {'shape': [3, 4]}),
    sample('infer', [In([2, 6])], {'shape': [-1, 3]}),
    sample('to_0d', [In([1])], {'shape': []}),
    sample('from_0d', [In([])], {'shape': [1, 1]}),
    sample('empty', [In([0, 4])], {'shape': [2, 0, 2]}),
    sample('transposed_copy', [In([3, 4], view=[['transpose', 0, 1]])], {'shape': [12]}),
    sample('transposed_view', [In([3, 4], view=[['transpose', 0, 1]])], {'shape': [2, 2, 3]}),
    sample('sliced', [In([4, 6], view=[['slice', 1, 0, 6, 2]])], {'shape': [12]}),
    sample('expanded', [In([1, 4], view=[['expand', [3, 4]]])], {'shape': [12]}),
    sample('int', [In([6], 'int64', gen='int')], {'shape': [2, 3]}),
    sample('bad', [In([2, 3])], {'shape': [4, 2]}),
    sample('two_infer', [In([2, 3])], {'shape': [-1, -1]}),
])
op('view', lambda i, a: i[0].view(a['shape']), [
    sample('basic', [In([2, 6])], {'shape': [3, 4]}),
    sample('infer', [In([2, 3, 4])], {'shape': [6, -1]}),
    sample('to_0d', [In([1, 1])], {'shape': []}),
    sample('empty', [In([0, 4])], {'shape': [4, 0]}),
    sample('transposed_ok', [In([3, 4], view=[['transpose', 0, 1]])], {'shape': [4, 3, 1]}),
    sample('transposed_bad', [In([3, 4], view=[['transpose', 0, 1]])], {'shape': [12]}),
    sample('sliced_bad', [In([4, 6], view=[['slice', 0, 0, 4, 2]])], {'shape': [12]}),
    sample('sliced_ok', [In([4, 6], view=[['slice', 1, 0, 6, 2]])], {'shape': [2, 2, 3]}),
    sample('bad', [In([2, 3])], {'shape': [5]}),
])
op('flatten', lambda i, a: i[0].flatten(*a.get('args', [])), [
    sample('all', [In([2, 3, 4])]),
    sample('start', [In([2, 3, 4])], {'args': [1]}),
    sample('range', [In([2, 3, 4, 2])], {'args': [1, 2]}),
    sample('zero_d', [In([])]),
    sample('transposed', [In([3, 4], view=[['transpose', 0, 1]])]),
    sample('contiguous_view', [In([2, 3, 4])], {'args': [0, 1]}),
    sample('bad_range', [In([2, 3, 4])], {'args': [2, 1]}),
])
op('unflatten', lambda i, a: i[0].unflatten(a['dim'], a['sizes']), [
    sample('basic', [In([2, 12])], {'dim': 1, 'sizes': [3, 4]}),
    sample('infer', [In([6, 2])], {'dim': 0, 'sizes': [-1, 2]}),
    sample('neg_dim', [In([2, 6])], {'dim': -1, 'sizes': [2, 3]}),
    sample('bad', [In([2, 6])], {'dim': 1, 'sizes': [4, 2]}),
])
op('squeeze', lambda i, a: i[0].squeeze(a['dim']) if 'dim' in a else i[0].squeeze(), [
    sample('all', [In([1, 3, 1, 2])]),
    sample('dim', [In([1, 3, 1, 2])], {'dim': 2}),
    sample('dim_not_1', [In([1, 3, 1, 2])], {'dim': 1}),
    sample('zero_d', [In([])]),
    sample('neg_dim', [In([2, 1])], {'dim': -1}),
    sample('empty', [In([0, 1])]),
    sample('dim_oob', [In([2, 1])], {'dim': 2}),
])
op('unsqueeze', lambda i, a: i[0].unsqueeze(a['dim']), [
    sample('front', [In([2, 3])], {'dim': 0}),
    sample('end', [In([2, 3])], {'dim': 2}),
    sample('neg', [In([2, 3])], {'dim': -1}),
    sample('zero_d', [In([])], {'dim': 0}),
    sample('transposed', [In([3, 2], view=[['transpose', 0, 1]])], {'dim': 1}),
    sample('dim_oob', [In([2, 3])], {'dim': 3}),
])
op('transpose', lambda i, a: i[0].transpose(a['d0'], a['d1']), [
    sample('basic', [In([2, 3])], {'d0': 0, 'd1': 1}),
    sample('3d', [In([2, 3, 4])], {'d0': 0, 'd1': 2}),
    sample('neg', [In([2, 3, 4])], {'d0': -1, 'd1': -2}),
    sample('same', [In([2, 3])], {'d0': 1, 'd1': 1}),
    sample('zero_d', [In([])], {'d0': 0, 'd1': -1}),
    sample('empty', [In([0, 3])], {'d0': 0, 'd1': 1}),
    sample('dim_oob', [In([2, 3])], {'d0': 0, 'd1': 2}),
])
op('t', lambda i, a: i[0].t(), [
    sample('2d', [In([2, 3])]),
    sample('1d', [In([3])]),
    sample('0d', [In([])]),
    sample('3d', [In([2, 2, 2])]),
])
op('permute', lambda i, a: i[0].permute(*a['dims']), [
    sample('basic', [In([2, 3, 4])], {'dims': [2, 0, 1]}),
    sample('neg', [In([2, 3, 4])], {'dims': [-1, 1, 0]}),
    sample('identity', [In([2, 3])], {'dims': [0, 1]}),
    sample('empty', [In([0, 2, 3])], {'dims': [1, 2, 0]}),
    sample('wrong_len', [In([2, 3])], {'dims': [0]}),
    sample('repeated', [In([2, 3])], {'dims': [0, 0]}),
])
op('expand', lambda i, a: i[0].expand(*a['shape']), [
    sample('basic', [In([3, 1])], {'shape': [3, 4]}),
    sample('new_dims', [In([3])], {'shape': [2, 4, 3]}),
    sample('minus_one', [In([3, 1])], {'shape': [-1, 5]}),
    sample('zero_d', [In([])], {'shape': [2, 3]}),
    sample('to_empty', [In([1, 3])], {'shape': [0, 3]}),
    sample('bad', [In([3, 2])], {'shape': [3, 4]}),
    sample('fewer_dims', [In([3, 2])], {'shape': [2]}),
])
op('expandAs', lambda i, a: i[0].expand_as(i[1]), [
    sample('basic', [In([3, 1]), In([2, 3, 4], grad=False)]),
    sample('bad', [In([3, 2]), In([3, 4], grad=False)]),
])
op('narrow', lambda i, a: i[0].narrow(a['dim'], a['start'], a['length']), [
    sample('basic', [In([4, 5])], {'dim': 1, 'start': 1, 'length': 3}),
    sample('neg_start', [In([6])], {'dim': 0, 'start': -3, 'length': 2}),
    sample('zero_len', [In([4])], {'dim': 0, 'start': 2, 'length': 0}),
    sample('transposed', [In([3, 4], view=[['transpose', 0, 1]])], {'dim': 0, 'start': 1, 'length': 2}),
    sample('too_long', [In([4])], {'dim': 0, 'start': 2, 'length': 3}),
    sample('zero_d', [In([])], {'dim': 0, 'start': 0, 'length': 1}),
])
op('select', lambda i, a: i[0].select(a['dim'], a['index']), [
    sample('basic', [In([3, 4])], {'dim': 0, 'index': 1}),
    sample('neg_index', [In([3, 4])], {'dim': 1, 'index': -1}),
    sample('3d', [In([2, 3, 4])], {'dim': 1, 'index': 2}),
    sample('to_0d', [In([5])], {'dim': 0, 'index': 3}),
    sample('oob', [In([3, 4])], {'dim': 0, 'index': 3}),
    sample('dim_oob', [In([3, 4])], {'dim': 2, 'index': 0}),
])
op('unfold', lambda i, a: i[0].unfold(a['dim'], a['size'], a['step']), [
    sample('basic', [In([7])], {'dim': 0, 'size': 3, 'step': 2}),
    sample('overlap', [In([2, 6])], {'dim': 1, 'size': 3, 'step': 1}),
    sample('dim0', [In([5, 2])], {'dim': 0, 'size': 2, 'step': 2}),
    sample('full', [In([4])], {'dim': 0, 'size': 4, 'step': 1}),
    sample('zero_d', [In([])], {'dim': 0, 'size': 1, 'step': 1}),
    sample('transposed', [In([3, 5], view=[['transpose', 0, 1]])], {'dim': 0, 'size': 2, 'step': 1}),
    sample('too_big', [In([3])], {'dim': 0, 'size': 4, 'step': 1}),
    sample('bad_step', [In([3])], {'dim': 0, 'size': 2, 'step': 0}),
])
op('split', lambda i, a: i[0].split(a['size'], a.get('dim', 0)), [
    sample('even', [In([6, 2])], {'size': 2}),
    sample('uneven', [In([7])], {'size': 3}),
    sample('sizes', [In([2, 6])], {'size': [1, 3, 2], 'dim': 1}),
    sample('neg_dim', [In([2, 5])], {'size': 2, 'dim': -1}),
    sample('bigger', [In([3])], {'size': 5}),
    sample('bad_sizes', [In([5])], {'size': [2, 2]}),
    sample('zero_size', [In([5])], {'size': [0, 5]}),
])
op('chunk', lambda i, a: i[0].chunk(a['n'], a.get('dim', 0)), [
    sample('even', [In([6])], {'n': 3}),
    sample('uneven', [In([7, 2])], {'n': 3}),
    sample('more_than_size', [In([2])], {'n': 4}),
    sample('dim1', [In([2, 5])], {'n': 2, 'dim': 1}),
    sample('bad_n', [In([4])], {'n': 0}),
])
op('unbind', lambda i, a: i[0].unbind(a.get('dim', 0)), [
    sample('dim0', [In([3, 2])]),
    sample('dim1', [In([2, 3])], {'dim': 1}),
])
op('repeat', lambda i, a: i[0].repeat(*a['sizes']), [
    sample('basic', [In([2, 3])], {'sizes': [2, 2]}),
    sample('new_dims', [In([3])], {'sizes': [2, 1, 2]}),
    sample('zero_d', [In([])], {'sizes': [3]}),
    sample('zero', [In([2])], {'sizes': [0]}),
    sample('transposed', [In([3, 2], view=[['transpose', 0, 1]])], {'sizes': [1, 2]}),
    sample('int', [In([2], 'int64', gen='int')], {'sizes': [3]}),
    sample('too_few', [In([2, 3])], {'sizes': [2]}),
])
op('flip', lambda i, a: i[0].flip(a['dims']), [
    sample('dim0', [In([3, 4])], {'dims': [0]}),
    sample('both', [In([3, 4])], {'dims': [0, 1]}),
    sample('neg', [In([2, 3, 4])], {'dims': [-1]}),
    sample('zero_d', [In([])], {'dims': []}),
    sample('empty', [In([0, 3])], {'dims': [0]}),
    sample('odd37', [In([37])], {'dims': [0]}),
    sample('transposed', [In([3, 4], view=[['transpose', 0, 1]])], {'dims': [1]}),
    sample('int', [In([4], 'int64', gen='int')], {'dims': [0]}),
    sample('dim_oob', [In([3])], {'dims': [1]}),
    sample('int_dim', [In([2, 3])], {'dims': 1}),
])
op('roll', lambda i, a: i[0].roll(a['shifts'], a['dims']) if 'dims' in a else i[0].roll(a['shifts']), [
    sample('flat', [In([2, 3])], {'shifts': 2}),
    sample('dim', [In([3, 4])], {'shifts': 1, 'dims': 1}),
    sample('neg_shift', [In([5])], {'shifts': -2, 'dims': 0}),
    sample('multi', [In([3, 4])], {'shifts': [1, -1], 'dims': [0, 1]}),
    sample('big_shift', [In([4])], {'shifts': 9, 'dims': 0}),
    sample('empty', [In([0, 3])], {'shifts': 1, 'dims': 0}),
    sample('transposed', [In([3, 4], view=[['transpose', 0, 1]])], {'shifts': 1, 'dims': 0}),
    sample('mismatch', [In([3, 4])], {'shifts': [1, 2], 'dims': [0]}),
])
for _name, _py in [('tril', 'tril'), ('triu', 'triu')]:
    op(_name, (lambda n: lambda i, a: getattr(i[0], n)(a.get('k', 0)))(_py), [
        sample('square', [In([4, 4])]),
        sample('k1', [In([3, 5])], {'k': 1}),
        sample('k_neg', [In([5, 3])], {'k': -1}),
        sample('batched', [In([2, 3, 3])]),
        sample('empty', [In([0, 3])]),
        sample('transposed', [In([3, 4], view=[['transpose', 0, 1]])]),
        sample('int', [In([3, 3], 'int64', gen='int')]),
        sample('bool', [In([3, 3], 'bool', gen='bool')]),
        sample('nan', [In([2, 2], values=[[nan, inf], [nan, -inf]])], gc=False),
        sample('1d', [In([3])]),
    ])
op('cat', lambda i, a: torch.cat(i, a.get('dim', 0)), [
    sample('dim0', [In([2, 3]), In([1, 3])]),
    sample('dim1', [In([2, 3]), In([2, 2]), In([2, 1])], {'dim': 1}),
    sample('neg_dim', [In([2, 3]), In([2, 3])], {'dim': -1}),
    sample('empty_skip', [In([2, 3]), In([0])]),
    sample('empty_part', [In([0, 3]), In([2, 3])]),
    sample('transposed', [In([3, 2], view=[['transpose', 0, 1]]), In([2, 2])], {'dim': 1}),
    sample('promote', [In([2], 'int64', gen='int'), In([2])]),
    sample('int', [In([2], 'int32', gen='int'), In([3], 'int32', gen='int')]),
    sample('single', [In([3])]),
    sample('mismatch', [In([2, 3]), In([2, 2])]),
    sample('zero_d', [In([]), In([])]),
])
op('stack', lambda i, a: torch.stack(i, a.get('dim', 0)), [
    sample('dim0', [In([2, 3]), In([2, 3])]),
    sample('dim_last', [In([2, 3]), In([2, 3]), In([2, 3])], {'dim': 2}),
    sample('neg', [In([3]), In([3])], {'dim': -1}),
    sample('zero_d', [In([]), In([])]),
    sample('empty', [In([0]), In([0])]),
    sample('mismatch', [In([2, 3]), In([3, 2])]),
])
op('contiguous', lambda i, a: i[0].contiguous(), [
    sample('already', [In([2, 3])]),
    sample('transposed', [In([3, 4], view=[['transpose', 0, 1]])]),
    sample('expanded', [In([1, 3], view=[['expand', [2, 3]]])]),
])
op('clone', lambda i, a: i[0].clone(), [
    sample('basic', [In([2, 3])]),
    sample('transposed', [In([3, 4], view=[['transpose', 0, 1]])]),
    sample('zero_d', [In([])]),
    sample('int', [In([3], 'int64', gen='int')]),
])
op('detach', lambda i, a: i[0].detach(), [
    sample('basic', [In([2, 3])]),
    sample('transposed', [In([3, 4], view=[['transpose', 0, 1]])]),
], diff=False)

# ---------------------------------------------------------------- indexing


def spec_py(s, inputs):
    if s is None:
        return None
    if isinstance(s, dict):
        return s['list'] if 'list' in s else inputs[s['t']]
    if isinstance(s, int):
        return s
    if s == '...':
        return Ellipsis
    parts = s.split(':')
    if len(parts) == 1:
        return int(parts[0])
    nums = [int(p) if p.strip() else None for p in parts] + [None] * (3 - len(parts))
    return slice(*nums[:3])


def index_call(i, a):
    return i[0][tuple(spec_py(s, i) for s in a['specs'])]


def index_put_call(i, a):
    x = i[0].clone()
    specs = tuple(spec_py(s, i) for s in a['specs'])
    if a.get('accumulate'):
        x.index_put_(specs, i[a['value']], accumulate=True)
    else:
        x[specs] = i[a['value']]
    return x


IDX = lambda vals, shape=None: In(shape if shape is not None else [len(vals)], 'int64', values=vals)
BIDX = lambda vals, shape=None: In(shape if shape is not None else [len(vals)], 'bool', values=vals)
op('index', index_call, [
    sample('int', [In([3, 4])], {'specs': [1]}),
    sample('neg_int', [In([3, 4])], {'specs': [-1, 2]}),
    sample('slice', [In([5, 4])], {'specs': ['1:3']}),
    sample('slice_step', [In([7])], {'specs': ['::2']}),
    sample('slice_neg', [In([5])], {'specs': ['-2:']}),
    sample('slice_neg_stop', [In([6])], {'specs': [':-2']}),
    sample('slice_clamped', [In([4])], {'specs': ['2:100']}),
    sample('slice_empty', [In([4])], {'specs': ['3:1']}),
    sample('colon_int', [In([3, 4])], {'specs': [':', 1]}),
    sample('ellipsis', [In([2, 3, 4])], {'specs': ['...', 1]}),
    sample('newaxis', [In([2, 3])], {'specs': [None, ':', None]}),
    sample('combo', [In([2, 5, 3])], {'specs': [0, '1:3', '...', None]}),
    sample('int_tensor', [In([5, 3]), IDX([0, 4, 2, 2])], {'specs': [{'t': 1}]}),
    sample('neg_int_tensor', [In([5]), IDX([-1, 0, -5])], {'specs': [{'t': 1}]}),
    sample('int_tensor_2d', [In([4, 3]), IDX([[0, 1], [3, 3]], [2, 2])], {'specs': [{'t': 1}]}),
    sample('int_tensor_dim1', [In([3, 4]), IDX([3, 0])], {'specs': [':', {'t': 1}]}),
    sample('two_tensors', [In([3, 4]), IDX([0, 2, 1]), IDX([3, 1, 1])], {'specs': [{'t': 1}, {'t': 2}]}),
    sample('two_tensors_bcast', [In([3, 4]), IDX([[0], [2]], [2, 1]), IDX([1, 3, 0])], {'specs': [{'t': 1}, {'t': 2}]}),
    sample('separated', [In([3, 4, 5]), IDX([0, 2]), IDX([1, 4])], {'specs': [{'t': 1}, ':', {'t': 2}]}),
    sample('adjacent_middle', [In([2, 3, 4, 5]), IDX([0, 2]), IDX([1, 3])], {'specs': [':', {'t': 1}, {'t': 2}]}),
    sample('bool_mask', [In([2, 3]), BIDX([[True, False, True], [False, False, True]], [2, 3])], {'specs': [{'t': 1}]}),
    sample('bool_rows', [In([3, 2]), BIDX([True, False, True])], {'specs': [{'t': 1}]}),
    sample('bool_dim1', [In([2, 3]), BIDX([False, True, True])], {'specs': [':', {'t': 1}]}),
    sample('empty_idx', [In([3, 2]), IDX([], [0])], {'specs': [{'t': 1}]}),
    sample('transposed', [In([3, 4], view=[['transpose', 0, 1]])], {'specs': ['1:', 0]}),
    sample('zero_d_ellipsis', [In([])], {'specs': ['...']}),
    sample('zero_d_none', [In([])], {'specs': [None]}),
    sample('oob', [In([3, 4])], {'specs': [3]}),
    sample('tensor_oob', [In([3]), IDX([0, 3])], {'specs': [{'t': 1}]}),
    sample('too_many', [In([3])], {'specs': [0, 0]}),
    sample('int64_values', [In([4], 'int64', gen='int')], {'specs': ['1:3']}),
    sample('list', [In([5, 2])], {'specs': [{'list': [4, 0, -1]}]}),
    sample('list_dim1', [In([2, 5])], {'specs': [':', {'list': [1, 1, 3]}]}),
    sample('step_then_tensor', [In([6, 3]), IDX([2, 0])], {'specs': ['::2', {'t': 1}]}),
    sample('ellipsis_tensor', [In([2, 3, 4]), IDX([3, 1])], {'specs': ['...', {'t': 1}]}),
    sample('none_tensor', [In([3, 4]), IDX([2, 0])], {'specs': [None, {'t': 1}]}),
    sample('bool_mask_3d_partial', [In([2, 3, 2]), BIDX([[True, False, True], [False, True, False]], [2, 3])], {'specs': [{'t': 1}]}),
    sample('bool_all_false', [In([3, 2]), BIDX([False, False, False])], {'specs': [{'t': 1}]}),
    sample('ellipsis_middle', [In([2, 3, 4, 5])], {'specs': [0, '...', 1]}),
    sample('expanded', [In([1, 4], view=[['expand', [3, 4]]]), IDX([0, 2])], {'specs': [{'t': 1}, '1:3']}),
])
op('indexPut_', index_put_call, [
    sample('int', [In([3, 4]), In([4])], {'specs': [1], 'value': 1}),
    sample('slice_scalar', [In([5]), In([])], {'specs': ['1:4'], 'value': 1}),
    sample('tensor_idx', [In([5, 2]), IDX([0, 3]), In([2, 2])], {'specs': [{'t': 1}], 'value': 2}),
    sample('bool_mask', [In([2, 3]), BIDX([[True, False, True], [False, True, False]], [2, 3]), In([])], {'specs': [{'t': 1}], 'value': 2}),
    sample('broadcast_value', [In([3, 4]), In([4])], {'specs': ['0:2'], 'value': 1}),
    sample('accumulate', [In([4]), IDX([0, 0, 2]), In([3])], {'specs': [{'t': 1}], 'value': 2, 'accumulate': True}),
    sample('two_tensors', [In([3, 3]), IDX([0, 2]), IDX([1, 2]), In([2])], {'specs': [{'t': 1}, {'t': 2}], 'value': 3}),
    sample('neg_idx', [In([5]), IDX([-1, -5]), In([2])], {'specs': [{'t': 1}], 'value': 2}),
    sample('ellipsis', [In([2, 3]), In([2])], {'specs': ['...', 0], 'value': 1}),
    sample('int_scalar', [In([4], 'int64', gen='int'), In([], 'int64', values=9)], {'specs': ['::2'], 'value': 1}),
    sample('accumulate_2d', [In([3, 2]), IDX([2, 2, 0]), In([3, 2])], {'specs': [{'t': 1}], 'value': 2, 'accumulate': True}),
])


def gather_idx(shape, size, dim):
    return In(shape, 'int64', gen='idx:%d' % size)


op('gather', lambda i, a: i[0].gather(a['dim'], i[1]), [
    sample('dim0', [In([3, 4]), gather_idx([2, 4], 3, 0)], {'dim': 0}),
    sample('dim1', [In([3, 4]), gather_idx([3, 2], 4, 1)], {'dim': 1}),
    sample('smaller', [In([3, 4]), gather_idx([2, 2], 4, 1)], {'dim': 1}),
    sample('larger_dim', [In([2, 3]), gather_idx([2, 5], 3, 1)], {'dim': 1}),
    sample('repeat', [In([4]), IDX([1, 1, 1, 3])], {'dim': 0}),
    sample('3d', [In([2, 3, 4]), gather_idx([2, 3, 2], 4, 2)], {'dim': -1}),
    sample('empty', [In([3, 4]), IDX([], [0, 4])], {'dim': 0}),
    sample('transposed', [In([4, 3], view=[['transpose', 0, 1]]), gather_idx([3, 2], 4, 1)], {'dim': 1}),
    sample('int', [In([5], 'int64', gen='int'), IDX([4, 0])], {'dim': 0}),
    sample('oob', [In([3]), IDX([3])], {'dim': 0}),
    sample('float_index', [In([3]), In([2])], {'dim': 0}),
    sample('ndim_mismatch', [In([3, 3]), IDX([0, 1])], {'dim': 0}),
])
op('scatter', lambda i, a: i[0].scatter(a['dim'], i[1], i[2]), [
    sample('dim0', [In([3, 4]), IDX([[2, 0, 1, 2], [1, 2, 0, 0]], [2, 4]), In([2, 4])], {'dim': 0}),
    sample('dim1', [In([2, 5]), IDX([[4, 0], [1, 3]], [2, 2]), In([2, 3])], {'dim': 1}),
    sample('scalar', [In([2, 4]), IDX([[3], [0]], [2, 1]), S(2.5)], {'dim': 1}),
    sample('3d', [In([2, 2, 3]), IDX([[[2, 0]], [[1, 2]]], [2, 1, 2]), In([2, 1, 2])], {'dim': 2}),
    sample('empty_index', [In([3]), IDX([], [0]), In([0])], {'dim': 0}),
    sample('int', [In([4], 'int64', gen='int'), IDX([3, 1]), In([2], 'int64', gen='int')], {'dim': 0}),
    sample('oob', [In([3]), IDX([5]), In([1])], {'dim': 0}),
    sample('dtype_mismatch', [In([3]), IDX([1]), In([1], 'float64')], {'dim': 0}),
])
op('scatterAdd', lambda i, a: i[0].scatter_add(a['dim'], i[1], i[2]), [
    sample('dim0', [In([3, 4]), IDX([[2, 0, 1, 2], [2, 0, 0, 0]], [2, 4]), In([2, 4])], {'dim': 0}),
    sample('dups', [In([4]), IDX([1, 1, 1, 3, 0]), In([5])], {'dim': 0}),
    sample('dim1', [In([2, 5]), IDX([[4, 4], [1, 3]], [2, 2]), In([2, 3])], {'dim': 1}),
    sample('int', [In([4], 'int64', gen='int'), IDX([3, 3]), In([2], 'int64', gen='int')], {'dim': 0}),
    sample('float64', [In([3], 'float64'), IDX([0, 0, 2]), In([3], 'float64')], {'dim': 0}),
    sample('oob', [In([3]), IDX([-1]), In([1])], {'dim': 0}),
])
op('indexSelect', lambda i, a: i[0].index_select(a['dim'], i[1]), [
    sample('dim0', [In([4, 3]), IDX([3, 0, 0])], {'dim': 0}),
    sample('dim1', [In([2, 5]), IDX([4, 1])], {'dim': 1}),
    sample('neg_dim', [In([2, 3, 4]), IDX([0, 3, 3, 1])], {'dim': -1}),
    sample('empty_idx', [In([3, 2]), IDX([], [0])], {'dim': 0}),
    sample('zero_d_idx', [In([3, 2]), In([], 'int64', values=2)], {'dim': 0}),
    sample('transposed', [In([3, 4], view=[['transpose', 0, 1]]), IDX([2, 0])], {'dim': 1}),
    sample('int32_idx', [In([4]), In([2], 'int32', values=[3, 1])], {'dim': 0}),
    sample('int', [In([5], 'int64', gen='int'), IDX([4, 0, 2])], {'dim': 0}),
    sample('oob', [In([3]), IDX([0, 3])], {'dim': 0}),
    sample('2d_index', [In([3]), IDX([[0]], [1, 1])], {'dim': 0}),
])
op('maskedSelect', lambda i, a: i[0].masked_select(i[1]), [
    sample('basic', [In([2, 3]), BIDX([[True, False, True], [False, True, True]], [2, 3])]),
    sample('broadcast', [In([2, 3]), BIDX([True, False, True])]),
    sample('none', [In([3]), BIDX([False, False, False])]),
])
op('nonzero', lambda i, a: i[0].nonzero(), [
    sample('basic', [In([2, 3], values=[[1.5, 0.0, 2.0], [0.0, 0.0, -1.0]])]),
    sample('bool', [In([4], 'bool', values=[True, False, True, True])]),
    sample('int', [In([2, 2], 'int64', values=[[0, 3], [0, 0]])]),
    sample('none', [In([3], values=[0.0, 0.0, 0.0])]),
    sample('zero_d', [In([], values=2.5)]),
], diff=False)

# ---------------------------------------------------------------- in place (on a clone, so the leaf stays a leaf)


def ip(method, nargs):
    def f(i, a):
        x = i[0].clone()
        r = getattr(x, method)(*i[1:1 + nargs], **{k: v for k, v in a.items() if k in ('alpha',)})
        assert r is x
        return x
    return f


op('add_', ip('add_', 1), [
    sample('basic', [In([2, 3]), In([2, 3])]),
    sample('broadcast', [In([2, 3]), In([3])]),
    sample('scalar', [In([2, 3]), S(1.5)]),
    sample('alpha', [In([3]), In([3])], {'alpha': 0.5}),
    sample('int_self_float_other', [In([3], 'int64', gen='int'), In([3])]),
    sample('float_self_int_other', [In([3]), In([3], 'int64', gen='int')]),
    sample('f32_self_f64_other', [In([3]), In([3], 'float64')]),
    sample('bad_broadcast', [In([3]), In([2, 3])]),
    sample('zero_d', [In([]), In([])]),
    sample('empty', [In([0, 2]), In([2])]),
])
op('sub_', ip('sub_', 1), [
    sample('basic', [In([2, 3]), In([2, 3])]),
    sample('scalar', [In([4]), S(0.5)]),
    sample('alpha', [In([3]), In([3])], {'alpha': 2}),
])
op('mul_', ip('mul_', 1), [
    sample('basic', [In([2, 3]), In([2, 3])]),
    sample('broadcast', [In([2, 3]), In([2, 1])]),
    sample('scalar', [In([4]), S(-2.5)]),
    sample('int', [In([4], 'int64', gen='int'), S(3)]),
    sample('int_by_float', [In([4], 'int64', gen='int'), S(0.5)]),
])
op('div_', ip('div_', 1), [
    sample('basic', [In([2, 3]), In([2, 3], gen='pos')]),
    sample('scalar', [In([4]), S(2.5)]),
    sample('int_self', [In([4], 'int64', gen='int'), S(2)]),
])
op('zero_', ip('zero_', 0), [
    sample('basic', [In([2, 3])]),
    sample('int', [In([3], 'int64', gen='int')]),
    sample('transposed', [In([3, 2], view=[['transpose', 0, 1]], grad=False)]),
])
op('fill_', ip('fill_', 1), [
    sample('float', [In([2, 3]), S(1.25)]),
    sample('int_into_float', [In([3]), S(4)]),
    sample('float_into_int', [In([3], 'int64', gen='int'), S(2.75)]),
    sample('bool', [In([3], 'bool', gen='bool'), S(True)]),
    sample('tensor_value', [In([2, 2]), In([])]),
    sample('nan', [In([2]), S(nan)]),
    sample('sliced', [In([4, 4], view=[['slice', 1, 0, 4, 2]], grad=False), S(7.5)]),
])
op('copy_', ip('copy_', 1), [
    sample('same', [In([2, 3]), In([2, 3])]),
    sample('broadcast', [In([2, 3]), In([3])]),
    sample('cast', [In([3]), In([3], 'int64', gen='int')]),
    sample('cast_to_int', [In([3], 'int64', gen='int'), In([3], values=[1.5, -2.7, 3.2])]),
    sample('transposed_src', [In([2, 3]), In([3, 2], view=[['transpose', 0, 1]])]),
    sample('bad_shape', [In([2, 3]), In([2])]),
])
op('clamp_', lambda i, a: i[0].clone().clamp_(i[1] if len(i) > 1 else None, i[2] if len(i) > 2 else None), [
    sample('both', [In([2, 3]), S(-0.5), S(0.5)]),
    sample('min', [In([5]), S(0.25)]),
    sample('int', [In([5], 'int64', gen='int'), S(-1), S(1)]),
])

# ---------------------------------------------------------------- in place through views (the base sees the writes)


def inplace_view(i, a):
    base = i[0].clone()
    v = apply_view(base, a['view'])
    m = a['op']
    if m == 'zero_':
        v.zero_()
    elif m == 'clamp_':
        v.clamp_(i[1], i[2])
    else:
        getattr(v, m)(i[1])
    return base


def ipv(sid, m, shape, view, *others, dtype='float32'):
    return sample(sid, [In(shape, dtype, grad=False, gen='int' if dtype != 'float32' else 'randn')] + list(others), {'op': m, 'view': view})


op('inplaceView', inplace_view, [
    ipv('add_transposed', 'add_', [3, 4], [['transpose', 0, 1]], In([4, 3], grad=False)),
    ipv('add_row', 'add_', [3, 4], [['select', 0, 1]], S(1.5)),
    ipv('mul_column', 'mul_', [3, 4], [['select', 1, 2]], In([3], grad=False)),
    ipv('mul_strided', 'mul_', [4, 6], [['slice', 1, 0, 6, 2]], S(-2.5)),
    ipv('fill_sliced', 'fill_', [4, 6], [['slice', 0, 1, 4, 2]], S(7.5)),
    ipv('fill_diagonal_block', 'fill_', [4, 4], [['narrow', 0, 1, 2], ['narrow', 1, 1, 2]], S(0.25)),
    ipv('zero_permuted', 'zero_', [2, 3, 4], [['permute', [2, 0, 1]], ['narrow', 0, 1, 2]]),
    ipv('copy_broadcast', 'copy_', [3, 4], [['transpose', 0, 1]], In([3], grad=False)),
    ipv('copy_cast', 'copy_', [2, 4], [['slice', 1, 1, 4, 2]], In([2, 2], 'int64', grad=False, gen='int')),
    ipv('clamp_view', 'clamp_', [3, 4], [['narrow', 1, 1, 2]], S(-0.5), S(0.5)),
    ipv('add_int', 'add_', [3, 3], [['transpose', 0, 1]], In([3, 3], 'int64', grad=False, gen='int'), dtype='int64'),
    ipv('sub_3d', 'sub_', [2, 3, 4], [['select', 2, 0]], In([2, 3], grad=False)),
    ipv('div_unsqueezed', 'div_', [3, 2], [['unsqueeze', 0], ['narrow', 2, 0, 1]], S(4)),
], diff=False)

# ---------------------------------------------------------------- conversion

op('to', lambda i, a: i[0].to(TD[a['dtype']]), [
    sample('f32_f64', [In([2, 3])], {'dtype': 'float64'}),
    sample('f64_f32', [In([4], 'float64', values=[0.1, 1e-50, 3.4e38, 1e39])], {'dtype': 'float32'}),
    sample('f32_int64', [In([5], values=[1.5, -2.7, 0.2, -0.9, 100.99])], {'dtype': 'int64'}),
    sample('f32_int32', [In([5], values=[1.5, -2.7, 0.2, -0.9, 100.99])], {'dtype': 'int32'}),
    sample('f32_bool', [In([4], values=[0.0, -0.0, 0.5, nan])], {'dtype': 'bool'}),
    sample('int_f32', [In([4], 'int64', gen='int')], {'dtype': 'float32'}),
    sample('bool_f32', [In([4], 'bool', gen='bool')], {'dtype': 'float32'}),
    sample('int64_int32', [In([3], 'int64', values=[5, -7, 2147483647])], {'dtype': 'int32'}),
    sample('int_uint8', [In([4], 'int64', values=[0, 7, 255, 300])], {'dtype': 'uint8'}),
    sample('f32_f16', [In([5], values=[0.1, 1.5, 65504.0, 70000.0, 1e-8])], {'dtype': 'float16'}),
    sample('f32_bf16', [In([4], values=[0.1, 1.5, 3.3e38, -1e-3])], {'dtype': 'bfloat16'}),
    sample('f16_f32', [In([3], 'float16', values=[0.1, -2.5, 1000.5])], {'dtype': 'float32'}),
    sample('transposed', [In([3, 2], view=[['transpose', 0, 1]])], {'dtype': 'float64'}),
    sample('same', [In([3])], {'dtype': 'float32'}),
    sample('nan_inf_f64', [In([3], values=[nan, inf, -inf])], {'dtype': 'float64'}),
    sample('zero_d', [In([], 'int64', values=3)], {'dtype': 'float32'}),
    sample('int_bool', [In([4], 'int64', values=[0, -3, 2, 0])], {'dtype': 'bool'}),
    sample('bool_int64', [In([3], 'bool', values=[True, False, True])], {'dtype': 'int64'}),
    sample('uint8_f32', [In([3], 'uint8', values=[0, 128, 255])], {'dtype': 'float32'}),
    sample('int32_int64', [In([3], 'int32', values=[-5, 2147483647, 7])], {'dtype': 'int64'}),
    sample('f16_bf16', [In([3], 'float16', values=[0.1, -2.5, 1000.5])], {'dtype': 'bfloat16'}),
    sample('expanded', [In([1, 3], view=[['expand', [2, 3]]])], {'dtype': 'float64'}),
])
for _name, _py in [('float', torch.float32), ('double', torch.float64), ('int', torch.int32), ('long', torch.int64), ('bool', torch.bool)]:
    op(_name, (lambda d: lambda i, a: i[0].to(d))(_py), [
        sample('from_f32', [In([4], values=[1.5, -2.5, 0.0, 3.25])]),
        sample('from_int', [In([3], 'int64', gen='int')]),
        sample('from_f64', [In([2, 2], 'float64', gen='unit')]),
    ])
op('type', lambda i, a: i[0].type(TD[a['dtype']]), [
    sample('to_f64', [In([3])], {'dtype': 'float64'}),
    sample('to_int', [In([3], values=[1.5, -2.5, 3.75])], {'dtype': 'int32'}),
])

# ---------------------------------------------------------------- creation (no inputs; the TS side passes the device)

op('arange', lambda i, a: torch.arange(*a['args'], **({'dtype': TD[a['dtype']]} if 'dtype' in a else {})), [
    sample('end', [], {'args': [5]}),
    sample('start_end', [], {'args': [2, 7]}),
    sample('step', [], {'args': [1, 10, 3]}),
    sample('neg_step', [], {'args': [10, 0, -3]}),
    sample('float_step', [], {'args': [0, 1, 0.1]}),
    sample('float_start', [], {'args': [-1.5, 2.5, 0.5]}),
    sample('dtype', [], {'args': [4], 'dtype': 'float64'}),
    sample('empty', [], {'args': [0]}),
    sample('bad_step', [], {'args': [0, 5, -1]}),
], diff=False)
op('linspace', lambda i, a: torch.linspace(*a['args'], **({'dtype': TD[a['dtype']]} if 'dtype' in a else {})), [
    sample('basic', [], {'args': [0, 1, 5]}),
    sample('neg', [], {'args': [-2, 3, 7]}),
    sample('one', [], {'args': [0, 1, 1]}),
    sample('zero', [], {'args': [0, 1, 0]}),
    sample('odd', [], {'args': [0.5, 7.25, 13]}),
    sample('f64', [], {'args': [0, 1, 11], 'dtype': 'float64'}),
    sample('reverse', [], {'args': [3, -3, 4]}),
], diff=False)
op('eye', lambda i, a: torch.eye(*a['args'], **({'dtype': TD[a['dtype']]} if 'dtype' in a else {})), [
    sample('square', [], {'args': [3]}),
    sample('rect', [], {'args': [2, 4]}),
    sample('zero', [], {'args': [0]}),
    sample('int', [], {'args': [2], 'dtype': 'int64'}),
], diff=False)
op('full', lambda i, a: torch.full(a['shape'], a['value'], **({'dtype': TD[a['dtype']]} if 'dtype' in a else {})), [
    sample('float', [], {'shape': [2, 3], 'value': 2.5}),
    sample('int', [], {'shape': [3], 'value': 7}),
    sample('bool', [], {'shape': [2], 'value': True}),
    sample('dtype', [], {'shape': [2, 2], 'value': 3, 'dtype': 'float64'}),
    sample('zero_d', [], {'shape': [], 'value': -1.5}),
    sample('empty', [], {'shape': [0, 2], 'value': 1.5}),
], diff=False)
for _name in ('zeros', 'ones'):
    op(_name, (lambda n: lambda i, a: getattr(torch, n)(a['shape'], **({'dtype': TD[a['dtype']]} if 'dtype' in a else {})))(_name), [
        sample('basic', [], {'shape': [2, 3]}),
        sample('zero_d', [], {'shape': []}),
        sample('empty', [], {'shape': [3, 0]}),
        sample('int', [], {'shape': [2], 'dtype': 'int64'}),
        sample('bool', [], {'shape': [2], 'dtype': 'bool'}),
        sample('f64', [], {'shape': [1, 2], 'dtype': 'float64'}),
    ], diff=False)
for _name in ('zerosLike', 'onesLike'):
    _py = {'zerosLike': torch.zeros_like, 'onesLike': torch.ones_like}[_name]
    op(_name, (lambda f: lambda i, a: f(i[0], **({'dtype': TD[a['dtype']]} if 'dtype' in a else {})))(_py), [
        sample('basic', [In([2, 3])]),
        sample('int', [In([3], 'int64', gen='int')]),
        sample('dtype', [In([2])], {'dtype': 'int32'}),
    ], diff=False)
op('fullLike', lambda i, a: torch.full_like(i[0], a['value']), [
    sample('basic', [In([2, 3])], {'value': 2.5}),
    sample('int', [In([3], 'int64', gen='int')], {'value': 4}),
], diff=False)
op('tensor', lambda i, a: torch.tensor(a['data'], **({'dtype': TD[a['dtype']]} if 'dtype' in a else {})), [
    sample('ints', [], {'data': [1, 2, 3]}),
    sample('floats', [], {'data': [[1.5, 2], [3, 4]]}),
    sample('bools', [], {'data': [True, False]}),
    sample('scalar', [], {'data': 3.5}),
    sample('int_scalar', [], {'data': 7}),
    sample('empty', [], {'data': []}),
    sample('nested_empty', [], {'data': [[], []]}),
    sample('dtype', [], {'data': [1, 2], 'dtype': 'float64'}),
    sample('ragged', [], {'data': [[1, 2], [3]]}),
], diff=False)

# ---------------------------------------------------------------- promotion table

DTYPES = ['float32', 'float64', 'float16', 'bfloat16', 'int32', 'int64', 'uint8', 'bool']


def promotion():
    out = {'tensor_tensor': {}, 'tensor_0d': {}, 'tensor_scalar': {}, 'zero_d_scalar': {}}
    for a in DTYPES:
        for b in DTYPES:
            ta, tb = torch.zeros(2, dtype=TD[a]), torch.zeros(2, dtype=TD[b])
            out['tensor_tensor'][a + ',' + b] = DT[torch.result_type(ta, tb)]
            out['tensor_0d'][a + ',' + b] = DT[torch.result_type(ta, torch.zeros((), dtype=TD[b]))]
        for name, s in [('int', 2), ('float', 2.5), ('bool', True)]:
            out['tensor_scalar'][a + ',' + name] = DT[torch.result_type(torch.zeros(2, dtype=TD[a]), s)]
            out['zero_d_scalar'][a + ',' + name] = DT[torch.result_type(torch.zeros((), dtype=TD[a]), s)]
    return out


# ---------------------------------------------------------------- printing

def printing():
    cases = []

    def case(cid, t, build):
        r = repr(t)
        cases.append({'id': cid, 'build': build, 'repr': r})

    def lit(cid, values, dtype='float32', shape=None, grad=False, then=None):
        t = torch.tensor(values, dtype=TD[dtype])
        if shape is not None:
            t = t.reshape(shape)
        if grad:
            t.requires_grad_(True)
        b = {'values': enc_tensor(t)['values'], 'shape': list(t.shape), 'dtype': dtype, 'grad': grad}
        if then:
            t = then[1](t)
            b['then'] = then[0]
        case(cid, t, b)

    lit('fixed', [[1.0, 2.0], [3.25, -4.5]])
    lit('ints_as_float', [1.0, 2.0, 3.0])
    lit('float_int_neg', [-1.0, 0.0, 10.0])
    lit('sci_small', [1e-5, 1.0, 2.5])
    lit('sci_large', [1e9, 1.0])
    lit('sci_ratio', [1.0, 2000.5])
    lit('nan_inf', [nan, inf, -inf, 1.5])
    lit('int_mode_nan', [1.0, nan, 3.0])
    lit('neg_zero', [-0.0, 1.0])
    lit('int64', [1, -20, 300], 'int64')
    lit('int32', [[1, 2], [3, 4]], 'int32')
    lit('uint8', [0, 255], 'uint8')
    lit('bool', [True, False, True], 'bool')
    lit('bool_all_true', [True, True], 'bool')
    lit('float64', [1.5, 2.25], 'float64')
    lit('float16', [0.5, 1.25], 'float16')
    lit('scalar', 3.5)
    lit('scalar_int', 7, 'int64')
    lit('empty', [], 'float32')
    lit('empty_2d', [], 'float32', shape=[0, 3])
    lit('empty_int32', [], 'int32')
    lit('requires_grad', [1.5, 2.5], grad=True)
    lit('grad_fn_mul', [1.5, 2.5], grad=True, then=('mul2.5', lambda t: t * 2.5))
    lit('grad_fn_add', [1.5, 2.5], grad=True, then=('add1.5', lambda t: t + 1.5))
    lit('grad_fn_sum', [1.5, 2.5], grad=True, then=('sum', lambda t: t.sum()))
    lit('f64_grad', [1.5, 2.5], 'float64', grad=True)
    lit('3d', [float(v) + 0.5 for v in range(12)], shape=[2, 3, 2])
    lit('summarized', [float(v) * 0.5 for v in range(2000)])
    lit('summarized_2d', [float(v) for v in range(1200)], shape=[40, 30])
    lit('summarized_int', list(range(1500)), 'int64')
    lit('wide', [float(v) * 1.25 + 0.5 for v in range(30)])
    lit('wide_2d', [float(v) * 100.125 for v in range(40)], shape=[2, 20])
    lit('small_mixed', [0.001, 0.5, 123.25])
    lit('sci_neg', [-1e-7, 3.0, 4.5])
    lit('all_zero', [0.0, 0.0])
    lit('big_int_float', [123456789.0, 1.0])
    lit('neg_sci', [-1.5e-6, -2.25e7, 3.0])
    lit('threshold_exact', [float(v) * 0.25 for v in range(1000)])
    lit('summarized_3d', [float(v) for v in range(8 * 8 * 20)], shape=[8, 8, 20])
    lit('nested_empty', [], shape=[2, 0, 3])
    lit('bool_0d', True, 'bool')
    lit('uint8_0d', 200, 'uint8')
    lit('rounding', [0.00015, 1.23456789, -9.87654321])
    lit('boundary_1e-4', [1e-4, 1.0])
    lit('fixed_wide', [123456.5, -0.5])
    lit('nan_only', [nan, nan])
    lit('inf_only', [inf, -inf])
    lit('4d', [float(v) - 7.5 for v in range(16)], shape=[2, 2, 2, 2])
    lit('int_wide', [10 ** 9 + v for v in range(30)], 'int64')
    lit('f64_sum_grad', [1.5, 2.5], 'float64', grad=True, then=('sum', lambda t: t.sum()))
    lit('int_mode_big', [1.0, 1e5, -3.0])
    lit('bf16', [0.5, -1.25, 3.0], 'bfloat16')
    return cases


# ---------------------------------------------------------------- higher-order gradients

HIGHER = {
    # id: (function of x, input shape); the TS side (test/core-autograd.test.ts) mirrors each
    'cube': (lambda x: x ** 3, [5]),
    'tanh': (lambda x: x.tanh(), [5]),
    'sigmoid': (lambda x: x.sigmoid(), [5]),
    'exp': (lambda x: x.exp(), [4]),
    'log': (lambda x: (x * x + 1).log(), [4]),
    'softmax': (lambda x: x.softmax(-1), [2, 3]),
    'logSoftmax': (lambda x: x.log_softmax(-1), [2, 3]),
    'logsumexp': (lambda x: x.logsumexp(-1), [2, 3]),
    'gelu': (lambda x: F.gelu(x), [5]),
    'silu': (lambda x: F.silu(x), [5]),
    'softplus': (lambda x: F.softplus(x), [5]),
    'norm': (lambda x: x.norm(), [4]),
    'var': (lambda x: x.var(-1), [2, 4]),
    'matmul': (lambda x: x @ x.t(), [2, 3]),
    'div': (lambda x: x / (x * x + 1), [4]),
    'where': (lambda x: torch.where(x > 0, x * x, -x * x * x), [6]),
    'prod': (lambda x: x.prod(-1), [2, 3]),
    'cumsum': (lambda x: (x * x).cumsum(0), [4]),
}


def higher_order():
    out = {}
    for cid, (f, shape) in HIGHER.items():
        g = torch.Generator().manual_seed(zlib.crc32(('higher/' + cid).encode()))
        x = torch.randn(shape, generator=g, dtype=torch.float64).requires_grad_(True)
        y = f(x)
        w = torch.randn(y.shape, generator=g, dtype=torch.float64)
        v = torch.randn(shape, generator=g, dtype=torch.float64)
        (first,) = torch.autograd.grad(y, x, w, create_graph=True)
        (second,) = torch.autograd.grad(first, x, v)
        out[cid] = {'x': enc_tensor(x), 'w': enc_tensor(w), 'v': enc_tensor(v), 'y': enc_tensor(y),
                    'first': enc_tensor(first), 'second': enc_tensor(second)}
    return out


# ---------------------------------------------------------------- main

def main():
    ops = {}
    for name, row in OPS.items():
        ops[name] = {'diff': row['diff'], 'samples': [run_sample(name, row, s) for s in row['samples']]}
    files = {
        'ops.json': {'torch': torch.__version__, 'ops': ops},
        'promotion.json': {'torch': torch.__version__, **promotion()},
        'printing.json': {'torch': torch.__version__, 'cases': printing()},
        'autograd.json': {'torch': torch.__version__, 'higher': higher_order()},
    }
    total = 0
    for fname, data in files.items():
        text = json.dumps(data, separators=(',', ':'), allow_nan=False)
        with open(os.path.join(OUT, fname), 'w') as f:
            f.write(text)
        total += len(text)
    nsamples = sum(len(o['samples']) for o in ops.values())
    print('wrote %d ops, %d samples, %.1f KB to %s' % (len(ops), nsamples, total / 1024, OUT))


if __name__ == '__main__':
    main()
