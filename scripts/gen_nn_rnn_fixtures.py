#!/usr/bin/python3
"""Writes the PyTorch reference fixtures for test/nn-loss.test.ts and test/nn-rnn.test.ts
into test/fixtures/nn_rnn/.

Run with Debian's interpreter, the one python3-torch is installed for:
    /usr/bin/python3 scripts/gen_nn_rnn_fixtures.py

Files written (small JSON; tensors as {"shape", "dtype", "data"} with data flattened row-major,
non-finite numbers as the strings "nan", "inf", "-inf"):
  losses.json     every functional loss with each reduction and option: inputs, options,
                  the output, a weight for the output's gradient and the input/target gradients
  sdpa.json       scaled dot-product attention (computed by hand, PyTorch 1.13 has no F.sdpa)
                  with bool/float/causal masks and a custom scale, plus gradients
  rnn.json        RNN (tanh/relu), LSTM, GRU and the cells: state dicts, inputs, outputs,
                  final states and the gradients of inputs, initial states and parameters
  transformer.json  MultiheadAttention, TransformerEncoderLayer and TransformerEncoder
                  (eval mode) with masks: state dicts, outputs, weights, gradients
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from fixture_util import enc, fixture_dir, json_writer

write = json_writer(fixture_dir('nn_rnn'))


D = torch.float64

# ---------------------------------------------------------------- losses

torch.manual_seed(0)
loss_cases = []


def loss_case(name, fn, ts_fn, inputs, options, ts_options, grad_of=('input',)):
    """inputs: dict of tensors (input, target); grads taken for the names in grad_of."""
    leaves = {}
    for k, v in inputs.items():
        v = v.detach().clone()
        if k in grad_of:
            v.requires_grad_(True)
        leaves[k] = v
    out = fn(leaves['input'], leaves['target'], **options)
    gw = torch.rand(out.shape, dtype=D) + 0.5
    grads = {}
    if out.requires_grad and torch.isfinite(out).all():
        gs = torch.autograd.grad((out * gw).sum(), [leaves[k] for k in grad_of], allow_unused=True)
        grads = {k: enc(g) for k, g in zip(grad_of, gs) if g is not None}
    loss_cases.append({
        'name': name, 'fn': ts_fn,
        'inputs': {k: enc(v) for k, v in leaves.items()},
        'options': ts_options,
        'out': enc(out), 'gradWeight': enc(gw), 'grads': grads,
    })


def topts(**kw):
    """Options in torchlet's names; tensors encoded."""
    return {k: (enc(v) if isinstance(v, torch.Tensor) else v) for k, v in kw.items()}


N, C = 4, 5
logits = torch.randn(N, C, dtype=D)
target = torch.tensor([1, 0, 4, 2])
target_ign = torch.tensor([1, -100, 4, 2])
target_ign1 = torch.tensor([1, 3, 1, 2])
weight = torch.rand(C, dtype=D) + 0.2
probs = torch.softmax(torch.randn(N, C, dtype=D), 1)
logits_k = torch.randn(2, 3, 4, 2, dtype=D)
target_k = torch.randint(0, 3, (2, 4, 2))
target_k[0, 1, 0] = -100
probs_k = torch.softmax(torch.randn(2, 3, 4, 2, dtype=D), 1)
weight3 = torch.rand(3, dtype=D) + 0.2

for red in ['mean', 'sum', 'none']:
    for label, kw, tkw, tgt in [
        ('plain', {}, {}, target),
        ('ignore', {}, {}, target_ign),
        ('weight', {'weight': weight}, {'weight': weight}, target_ign),
        ('ignoreIndex1', {'ignore_index': 1, 'weight': weight}, {'ignoreIndex': 1, 'weight': weight}, target_ign1),
        ('smoothing', {'label_smoothing': 0.2}, {'labelSmoothing': 0.2}, target_ign),
        ('weight+smoothing', {'weight': weight, 'label_smoothing': 0.3}, {'weight': weight, 'labelSmoothing': 0.3}, target_ign),
        ('ignoreIndex1+weight+smoothing', {'ignore_index': 1, 'weight': weight, 'label_smoothing': 0.1},
         {'ignoreIndex': 1, 'weight': weight, 'labelSmoothing': 0.1}, target_ign1),
    ]:
        loss_case(f'crossEntropy {label} {red}', F.cross_entropy, 'crossEntropy', {'input': logits, 'target': tgt},
                  dict(kw, reduction=red), topts(**tkw, reduction=red))
    for label, kw, tkw in [('', {}, {}), (' weight', {'weight': weight}, {'weight': weight}),
                           (' smoothing', {'label_smoothing': 0.25}, {'labelSmoothing': 0.25}),
                           (' weight+smoothing', {'weight': weight, 'label_smoothing': 0.25}, {'weight': weight, 'labelSmoothing': 0.25})]:
        loss_case(f'crossEntropy probabilities{label} {red}', F.cross_entropy, 'crossEntropy', {'input': logits, 'target': probs},
                  dict(kw, reduction=red), topts(**tkw, reduction=red), grad_of=('input', 'target'))
    loss_case(f'crossEntropy kdim {red}', F.cross_entropy, 'crossEntropy', {'input': logits_k, 'target': target_k},
              {'weight': weight3, 'label_smoothing': 0.1, 'reduction': red}, topts(weight=weight3, labelSmoothing=0.1, reduction=red))
    loss_case(f'crossEntropy kdim probabilities {red}', F.cross_entropy, 'crossEntropy', {'input': logits_k, 'target': probs_k},
              {'weight': weight3, 'reduction': red}, topts(weight=weight3, reduction=red), grad_of=('input', 'target'))
    loss_case(f'crossEntropy unbatched {red}', F.cross_entropy, 'crossEntropy', {'input': logits[0], 'target': torch.tensor(3)},
              {'weight': weight, 'reduction': red}, topts(weight=weight, reduction=red))
    logp = torch.log_softmax(logits, 1)
    for label, kw, tkw, tgt in [('plain', {}, {}, target), ('weight+ignore', {'weight': weight}, {'weight': weight}, target_ign),
                                ('ignoreIndex1', {'ignore_index': 1}, {'ignoreIndex': 1}, target_ign1)]:
        loss_case(f'nllLoss {label} {red}', F.nll_loss, 'nllLoss', {'input': logp, 'target': tgt},
                  dict(kw, reduction=red), topts(**tkw, reduction=red))
    loss_case(f'nllLoss kdim {red}', F.nll_loss, 'nllLoss', {'input': torch.log_softmax(logits_k, 1), 'target': target_k},
              {'weight': weight3, 'reduction': red}, topts(weight=weight3, reduction=red))

# every target ignored: the weighted mean is 0/0
loss_case('crossEntropy all ignored mean', F.cross_entropy, 'crossEntropy',
          {'input': logits[:2], 'target': torch.tensor([-100, -100])}, {}, topts())

x = torch.randn(4, 3, dtype=D)
y = torch.randn(4, 3, dtype=D)
y[0, 0] = x[0, 0] + 0.2  # inside the quadratic zone of smooth L1 / Huber
y_b = torch.randn(1, 3, dtype=D)
for red in ['mean', 'sum', 'none']:
    loss_case(f'mseLoss {red}', F.mse_loss, 'mseLoss', {'input': x, 'target': y}, {'reduction': red}, topts(reduction=red), ('input', 'target'))
    loss_case(f'l1Loss {red}', F.l1_loss, 'l1Loss', {'input': x, 'target': y}, {'reduction': red}, topts(reduction=red), ('input', 'target'))
    for beta in [1.0, 0.5, 0.0]:
        loss_case(f'smoothL1Loss beta={beta} {red}', F.smooth_l1_loss, 'smoothL1Loss', {'input': x, 'target': y},
                  {'reduction': red, 'beta': beta}, topts(reduction=red, beta=beta), ('input', 'target'))
    for delta in [1.0, 0.3, 2.0]:
        loss_case(f'huberLoss delta={delta} {red}', F.huber_loss, 'huberLoss', {'input': x, 'target': y},
                  {'reduction': red, 'delta': delta}, topts(reduction=red, delta=delta), ('input', 'target'))
loss_case('mseLoss broadcast target', F.mse_loss, 'mseLoss', {'input': x, 'target': y_b}, {}, topts(), ('input', 'target'))

p = torch.sigmoid(torch.randn(4, 3, dtype=D))
t_soft = torch.rand(4, 3, dtype=D)
t_bin = torch.randint(0, 2, (4, 3)).to(D)
w_full = torch.rand(4, 3, dtype=D) + 0.5
w_row = torch.rand(3, dtype=D) + 0.5
p_edge = torch.tensor([0.0, 1.0, 0.3, 0.0, 1.0, 0.999], dtype=D)
t_edge = torch.tensor([0.0, 1.0, 1.0, 1.0, 0.0, 1.0], dtype=D)
zl = torch.randn(4, 3, dtype=D) * 3
zl[0, 0], zl[0, 1], zl[1, 0] = 60.0, -60.0, 0.0
pos_w = torch.rand(3, dtype=D) * 3 + 0.1
for red in ['mean', 'sum', 'none']:
    loss_case(f'binaryCrossEntropy soft {red}', F.binary_cross_entropy, 'binaryCrossEntropy', {'input': p, 'target': t_soft},
              {'reduction': red}, topts(reduction=red), ('input', 'target'))
    loss_case(f'binaryCrossEntropy weight {red}', F.binary_cross_entropy, 'binaryCrossEntropy', {'input': p, 'target': t_bin},
              {'reduction': red, 'weight': w_full}, topts(reduction=red, weight=w_full), ('input',))
    loss_case(f'binaryCrossEntropy row weight {red}', F.binary_cross_entropy, 'binaryCrossEntropy', {'input': p, 'target': t_bin},
              {'reduction': red, 'weight': w_row}, topts(reduction=red, weight=w_row), ('input',))
    loss_case(f'binaryCrossEntropyWithLogits {red}', F.binary_cross_entropy_with_logits, 'binaryCrossEntropyWithLogits',
              {'input': zl, 'target': t_soft}, {'reduction': red}, topts(reduction=red), ('input', 'target'))
    loss_case(f'binaryCrossEntropyWithLogits weight+posWeight {red}', F.binary_cross_entropy_with_logits, 'binaryCrossEntropyWithLogits',
              {'input': zl, 'target': t_bin}, {'reduction': red, 'weight': w_row, 'pos_weight': pos_w},
              topts(reduction=red, weight=w_row, posWeight=pos_w), ('input', 'target'))
loss_case('binaryCrossEntropy saturated inputs', F.binary_cross_entropy, 'binaryCrossEntropy', {'input': p_edge, 'target': t_edge},
          {'reduction': 'none'}, topts(reduction='none'), ('input',))

lp = torch.log_softmax(torch.randn(3, 4, dtype=D), 1)
tp = torch.softmax(torch.randn(3, 4, dtype=D), 1)
tp0 = tp.clone()
tp0[0, 1] = 0.0
for red in ['mean', 'sum', 'none', 'batchmean']:
    loss_case(f'klDiv {red}', F.kl_div, 'klDiv', {'input': lp, 'target': tp0}, {'reduction': red}, topts(reduction=red), ('input',))
    loss_case(f'klDiv logTarget {red}', F.kl_div, 'klDiv', {'input': lp, 'target': torch.log(tp)},
              {'reduction': red, 'log_target': True}, topts(reduction=red, logTarget=True), ('input', 'target'))
loss_case('klDiv target grad', F.kl_div, 'klDiv', {'input': lp, 'target': tp}, {'reduction': 'sum'}, topts(reduction='sum'), ('input', 'target'))

write('losses.json', {'cases': loss_cases})

# ---------------------------------------------------------------- scaled dot-product attention

torch.manual_seed(1)


def sdpa_ref(q, k, v, attn_mask=None, is_causal=False, scale=None):
    L, S = q.size(-2), k.size(-2)
    s = 1 / math.sqrt(q.size(-1)) if scale is None else scale
    bias = torch.zeros(L, S, dtype=q.dtype)
    if is_causal:
        bias.masked_fill_(torch.ones(L, S, dtype=torch.bool).tril().logical_not(), float('-inf'))
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            bias = bias.masked_fill(attn_mask.logical_not(), float('-inf'))
        else:
            bias = attn_mask + bias
    w = torch.softmax(q @ k.transpose(-2, -1) * s + bias, -1)
    return w @ v


sdpa_cases = []
B, H, L, S, E, Ev = 2, 2, 4, 5, 8, 6
q = torch.randn(B, H, L, E, dtype=D)
k = torch.randn(B, H, S, E, dtype=D)
v = torch.randn(B, H, S, Ev, dtype=D)
bool_mask = torch.rand(L, S) > 0.3
bool_mask[:, 0] = True  # no fully masked row
bool_mask_b = torch.rand(B, 1, L, S) > 0.3
bool_mask_b[..., 0] = True
float_mask = torch.randn(L, S, dtype=D)
for name, opts, tsopts in [
    ('plain', {}, {}),
    ('bool mask', {'attn_mask': bool_mask}, {'attnMask': bool_mask}),
    ('bool mask broadcast batch', {'attn_mask': bool_mask_b}, {'attnMask': bool_mask_b}),
    ('float mask', {'attn_mask': float_mask}, {'attnMask': float_mask}),
    ('causal', {'is_causal': True}, {'isCausal': True}),
    ('scale', {'scale': 0.3}, {'scale': 0.3}),
]:
    qq, kk, vv = (t.clone().requires_grad_(True) for t in (q, k, v))
    out = sdpa_ref(qq, kk, vv, **opts)
    gw = torch.rand(out.shape, dtype=D)
    gq, gk, gv = torch.autograd.grad((out * gw).sum(), [qq, kk, vv])
    sdpa_cases.append({'name': name, 'q': enc(q), 'k': enc(k), 'v': enc(v), 'options': topts(**tsopts),
                       'out': enc(out), 'gradWeight': enc(gw), 'grads': {'q': enc(gq), 'k': enc(gk), 'v': enc(gv)}})
write('sdpa.json', {'cases': sdpa_cases})

# ---------------------------------------------------------------- recurrent layers

torch.manual_seed(2)
rnn_cases = []


def sd(m):
    return {k: enc(v) for k, v in m.state_dict().items()}


def rnn_case(name, kind, ctor_kw, ts_opts, x, with_hx):
    cls = {'RNN': nn.RNN, 'LSTM': nn.LSTM, 'GRU': nn.GRU}[kind]
    m = cls(**ctor_kw)
    x = x.clone().requires_grad_(True)
    D_ = 2 if ctor_kw.get('bidirectional') else 1
    nl = ctor_kw.get('num_layers', 1)
    batched = x.dim() == 3
    bsz = (x.size(0) if ctor_kw.get('batch_first') else x.size(1)) if batched else None
    hsize = ctor_kw.get('proj_size') or ctor_kw['hidden_size']
    hshape = (D_ * nl, bsz, hsize) if batched else (D_ * nl, hsize)
    cshape = hshape[:-1] + (ctor_kw['hidden_size'],)
    hx = None
    leaves = [x]
    if with_hx:
        h0 = torch.randn(hshape).requires_grad_(True)
        if kind == 'LSTM':
            c0 = torch.randn(cshape).requires_grad_(True)
            hx = (h0, c0)
            leaves += [h0, c0]
        else:
            hx = h0
            leaves.append(h0)
    out, hn = m(x, hx)
    finals = list(hn) if kind == 'LSTM' else [hn]
    gws = [torch.rand(t.shape) for t in [out] + finals]
    total = sum((t * g).sum() for t, g in zip([out] + finals, gws))
    params = list(m.named_parameters())
    grads = torch.autograd.grad(total, leaves + [p for _, p in params])
    rnn_cases.append({
        'name': name, 'kind': kind, 'inputSize': ctor_kw['input_size'], 'hiddenSize': ctor_kw['hidden_size'],
        'options': ts_opts, 'stateDict': sd(m), 'stateDictKeys': list(m.state_dict().keys()), 'repr': str(m),
        'x': enc(x), 'hx': [enc(t) for t in leaves[1:]] if with_hx else None,
        'out': enc(out), 'finals': [enc(t) for t in finals], 'gradWeights': [enc(g) for g in gws],
        'grads': {'x': enc(grads[0]), 'hx': [enc(g) for g in grads[1:len(leaves)]],
                  'params': {n: enc(g) for (n, _), g in zip(params, grads[len(leaves):])}},
    })


for kind in ['RNN', 'LSTM', 'GRU']:
    I, Hs = 3, 4
    rnn_case(f'{kind} 2 layers bidirectional batchFirst', kind,
             dict(input_size=I, hidden_size=Hs, num_layers=2, bidirectional=True, batch_first=True),
             {'numLayers': 2, 'bidirectional': True, 'batchFirst': True}, torch.randn(2, 5, I), False)
    rnn_case(f'{kind} 1 layer with hx', kind, dict(input_size=I, hidden_size=Hs), {}, torch.randn(4, 3, I), True)
    rnn_case(f'{kind} 2 layers no bias with hx', kind, dict(input_size=I, hidden_size=Hs, num_layers=2, bias=False),
             {'numLayers': 2, 'bias': False}, torch.randn(3, 2, I), True)
    rnn_case(f'{kind} unbatched bidirectional', kind, dict(input_size=I, hidden_size=Hs, bidirectional=True),
             {'bidirectional': True}, torch.randn(4, I), True)
rnn_case('RNN relu 2 layers bidirectional', 'RNN',
         dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True, nonlinearity='relu'),
         {'numLayers': 2, 'bidirectional': True, 'nonlinearity': 'relu'}, torch.randn(5, 2, 3), True)
rnn_case('LSTM projSize 2 layers bidirectional', 'LSTM',
         dict(input_size=3, hidden_size=5, num_layers=2, bidirectional=True, proj_size=2),
         {'numLayers': 2, 'bidirectional': True, 'projSize': 2}, torch.randn(4, 2, 3), True)

cell_cases = []
for kind, cls in [('RNNCell', nn.RNNCell), ('LSTMCell', nn.LSTMCell), ('GRUCell', nn.GRUCell)]:
    for batched in [True, False]:
        m = cls(3, 4)
        x = torch.randn((2, 3) if batched else (3,)).requires_grad_(True)
        hshape = (2, 4) if batched else (4,)
        h0 = torch.randn(hshape).requires_grad_(True)
        leaves = [x, h0]
        if kind == 'LSTMCell':
            c0 = torch.randn(hshape).requires_grad_(True)
            leaves.append(c0)
            outs = list(m(x, (h0, c0)))
        else:
            outs = [m(x, h0)]
        gws = [torch.rand(t.shape) for t in outs]
        params = list(m.named_parameters())
        grads = torch.autograd.grad(sum((t * g).sum() for t, g in zip(outs, gws)), leaves + [p for _, p in params])
        cell_cases.append({
            'name': f'{kind} {"batched" if batched else "unbatched"}', 'kind': kind, 'stateDict': sd(m), 'repr': str(m),
            'x': enc(x), 'hx': [enc(t) for t in leaves[1:]], 'outs': [enc(t) for t in outs], 'gradWeights': [enc(g) for g in gws],
            'grads': {'x': enc(grads[0]), 'hx': [enc(g) for g in grads[1:len(leaves)]],
                      'params': {n: enc(g) for (n, _), g in zip(params, grads[len(leaves):])}},
        })
write('rnn.json', {'cases': rnn_cases, 'cells': cell_cases})

# ---------------------------------------------------------------- attention and transformer

torch.manual_seed(3)
mha_cases = []


def mha_case(name, ctor_kw, ts_opts, q, k, v, fwd_kw, ts_fwd):
    m = nn.MultiheadAttention(**ctor_kw).eval()
    q, k, v = (t.clone().requires_grad_(True) for t in (q, k, v))
    out, w = m(q, k, v, **fwd_kw)
    gw_out = torch.rand(out.shape)
    total = (out * gw_out).sum()
    gw_w = None
    if w is not None:
        gw_w = torch.rand(w.shape)
        total = total + (w * gw_w).sum()
    params = list(m.named_parameters())
    grads = torch.autograd.grad(total, [q, k, v] + [p for _, p in params])
    mha_cases.append({
        'name': name, 'embedDim': ctor_kw['embed_dim'], 'numHeads': ctor_kw['num_heads'], 'options': ts_opts,
        'stateDict': sd(m), 'stateDictKeys': list(m.state_dict().keys()), 'repr': str(m),
        'q': enc(q), 'k': enc(k), 'v': enc(v), 'forward': ts_fwd,
        'out': enc(out), 'weights': enc(w), 'gradWeights': [enc(gw_out), enc(gw_w)],
        'grads': {'q': enc(grads[0]), 'k': enc(grads[1]), 'v': enc(grads[2]),
                  'params': {n: enc(g) for (n, _), g in zip(params, grads[3:])}},
    })


E_, Hh, Lq, Sk, Nb = 8, 2, 4, 5, 3
xq = torch.randn(Lq, Nb, E_)
xk = torch.randn(Sk, Nb, E_)
xv = torch.randn(Sk, Nb, E_)
kpm = torch.zeros(Nb, Sk, dtype=torch.bool)
kpm[0, 3:] = True
kpm[2, 4] = True
am_bool = torch.rand(Lq, Sk) > 0.7
am_bool[:, 0] = False  # True = not allowed; keep a key for every query
am_float = torch.randn(Lq, Sk)
am_3d = torch.randn(Nb * Hh, Lq, Sk)
causal = torch.triu(torch.full((Lq, Lq), float('-inf')), 1)

base = dict(embed_dim=E_, num_heads=Hh)
mha_case('self attention', base, {}, xq, xq, xq, {}, {})
mha_case('cross attention with keyPaddingMask', base, {}, xq, xk, xv, {'key_padding_mask': kpm}, {'keyPaddingMask': enc(kpm)})
mha_case('bool attnMask per-head weights', base, {}, xq, xk, xv, {'attn_mask': am_bool, 'average_attn_weights': False},
         {'attnMask': enc(am_bool), 'averageAttnWeights': False})
mha_case('float attnMask + keyPaddingMask', base, {}, xq, xk, xv, {'attn_mask': am_float, 'key_padding_mask': kpm},
         {'attnMask': enc(am_float), 'keyPaddingMask': enc(kpm)})
mha_case('3-d float attnMask, needWeights false', base, {}, xq, xk, xv, {'attn_mask': am_3d, 'need_weights': False},
         {'attnMask': enc(am_3d), 'needWeights': False})
mha_case('causal mask batchFirst', dict(base, batch_first=True), {'batchFirst': True},
         xq.transpose(0, 1), xq.transpose(0, 1), xq.transpose(0, 1), {'attn_mask': causal}, {'attnMask': enc(causal)})
mha_case('kdim vdim no bias', dict(base, kdim=5, vdim=6, bias=False), {'kdim': 5, 'vdim': 6, 'bias': False},
         xq, torch.randn(Sk, Nb, 5), torch.randn(Sk, Nb, 6), {'key_padding_mask': kpm}, {'keyPaddingMask': enc(kpm)})
mha_case('unbatched', base, {}, torch.randn(Lq, E_), torch.randn(Sk, E_), torch.randn(Sk, E_),
         {'key_padding_mask': kpm[0]}, {'keyPaddingMask': enc(kpm[0])})

enc_cases = []


def encoder_case(name, make, ts_ctor, src, fwd_kw, ts_fwd):
    m = make().eval()
    src = src.clone().requires_grad_(True)
    out = m(src, **fwd_kw)
    gw = torch.rand(out.shape)
    params = list(m.named_parameters())
    grads = torch.autograd.grad((out * gw).sum(), [src] + [p for _, p in params])
    enc_cases.append({
        'name': name, 'ctor': ts_ctor, 'stateDict': sd(m), 'stateDictKeys': list(m.state_dict().keys()), 'repr': str(m),
        'src': enc(src), 'forward': ts_fwd, 'out': enc(out), 'gradWeight': enc(gw),
        'grads': {'src': enc(grads[0]), 'params': {n: enc(g) for (n, _), g in zip(params, grads[1:])}},
    })


src = torch.randn(5, 3, 8)
skpm = torch.zeros(3, 5, dtype=torch.bool)
skpm[1, 3:] = True
smask = torch.triu(torch.full((5, 5), float('-inf')), 1)
layer_kw = dict(d_model=8, nhead=2, dim_feedforward=16, dropout=0.1)
ts_layer = {'dModel': 8, 'nhead': 2, 'dimFeedforward': 16, 'dropout': 0.1}
encoder_case('layer relu post-norm', lambda: nn.TransformerEncoderLayer(**layer_kw), {'layer': ts_layer}, src,
             {'src_key_padding_mask': skpm}, {'srcKeyPaddingMask': enc(skpm)})
encoder_case('layer gelu pre-norm batchFirst', lambda: nn.TransformerEncoderLayer(**layer_kw, activation='gelu', norm_first=True, batch_first=True),
             {'layer': dict(ts_layer, activation='gelu', normFirst=True, batchFirst=True)}, src.transpose(0, 1),
             {'src_mask': smask}, {'srcMask': enc(smask)})
encoder_case('layer eps', lambda: nn.TransformerEncoderLayer(**layer_kw, layer_norm_eps=1e-3), {'layer': dict(ts_layer, layerNormEps=1e-3)},
             src, {}, {})
encoder_case('encoder 2 layers + norm', lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(**layer_kw), 2, norm=nn.LayerNorm(8),
                                                                       enable_nested_tensor=False),
             {'layer': ts_layer, 'numLayers': 2, 'norm': 8}, src, {'mask': smask, 'src_key_padding_mask': skpm},
             {'mask': enc(smask), 'srcKeyPaddingMask': enc(skpm)})
write('transformer.json', {'mha': mha_cases, 'encoder': enc_cases})
