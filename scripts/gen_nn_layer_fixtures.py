#!/usr/bin/python3
"""Writes the PyTorch reference fixtures for test/nn-layers.test.ts into test/fixtures/nn_layers/.

Run with Debian's interpreter, the one python3-torch is installed for:
    /usr/bin/python3 scripts/gen_nn_layer_fixtures.py

Files written (small JSON; tensors as {"shape", "dtype", "data"} with data flattened row-major):
  layers.json   one case per layer configuration: how to build it in torchlet ("ts": class,
                positional args, options), its state dict, the inputs, the output, the weight
                of the output's gradient (loss = sum(output * gout)), the gradients of the
                inputs and of every parameter, the state dict after the step (running stats,
                max_norm renorm) and the module's repr
  models.json   a small CNN and the 784-256-128-10 MLP: state-dict keys, shapes, parameter
                counts and repr; the CNN also with weights, input, output and gradients
"""
import zlib

import torch
import torch.nn as nn

from fixture_util import enc, fixture_dir, json_writer

write = json_writer(fixture_dir('nn_layers'))


def ts(cls, *args, **opts):
    """How test/nn-layers.test.ts builds the same layer: new nn[cls](...args, opts)."""
    return {'cls': cls, 'args': list(args), 'opts': opts}


def run_case(name, module, spec, inputs, train=False, randomize_buffers=False, returns_indices=False):
    torch.manual_seed(zlib.crc32(name.encode()))
    if randomize_buffers:
        with torch.no_grad():
            for bname, b in module.named_buffers():
                if b.dtype.is_floating_point:
                    b.copy_(torch.rand_like(b) + 0.5 if 'var' in bname else torch.randn_like(b))
    # non-trivial affine parameters for norm layers (PyTorch initialises them to 1/0)
    with torch.no_grad():
        for pname, p in module.named_parameters():
            if p.dim() == 1 and 'norm' in type(module).__name__.lower():
                p.copy_(torch.randn_like(p))
    module.train(train)
    state = {k: enc(v) for k, v in module.state_dict().items()}
    ins = [x.clone().requires_grad_(x.dtype.is_floating_point) for x in inputs]
    out = module(*ins)
    indices = None
    if returns_indices:
        out, indices = out
    gout = torch.randn_like(out)
    (out * gout).sum().backward()
    case = {
        'name': name,
        'ts': spec,
        'train': train,
        'state': state,
        'inputs': [enc(x) for x in inputs],
        'output': enc(out),
        'gout': enc(gout),
        'gradInputs': [enc(x.grad) if x.grad is not None else None for x in ins],
        'gradParams': {k: enc(p.grad) for k, p in module.named_parameters()},
        'stateAfter': {k: enc(v) for k, v in module.state_dict().items()},
        'repr': repr(module),
        'numParameters': sum(p.numel() for p in module.parameters()),
    }
    if indices is not None:
        case['indices'] = enc(indices)
    return case


def main():
    torch.manual_seed(0)
    r = torch.randn
    cases = []
    add = cases.append

    # linear
    add(run_case('Linear', nn.Linear(5, 3), ts('Linear', 5, 3), [r(4, 5)]))
    add(run_case('Linear no bias, 3-D input', nn.Linear(5, 3, bias=False), ts('Linear', 5, 3, bias=False), [r(2, 3, 5)]))
    add(run_case('Bilinear', nn.Bilinear(3, 4, 2), ts('Bilinear', 3, 4, 2), [r(5, 3), r(5, 4)]))

    # convolutions
    add(run_case('Conv1d stride padding', nn.Conv1d(3, 4, 3, stride=2, padding=1), ts('Conv1d', 3, 4, 3, stride=2, padding=1), [r(2, 3, 9)]))
    add(run_case('Conv1d groups dilation same', nn.Conv1d(4, 6, 3, groups=2, dilation=2, padding='same'),
                 ts('Conv1d', 4, 6, 3, groups=2, dilation=2, padding='same'), [r(2, 4, 8)]))
    add(run_case('Conv1d circular', nn.Conv1d(2, 3, 3, padding=2, padding_mode='circular'),
                 ts('Conv1d', 2, 3, 3, padding=2, paddingMode='circular'), [r(2, 2, 6)]))
    add(run_case('Conv2d', nn.Conv2d(3, 4, 3), ts('Conv2d', 3, 4, 3), [r(2, 3, 7, 7)]))
    add(run_case('Conv2d stride padding dilation groups no bias',
                 nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2, bias=False),
                 ts('Conv2d', 4, 6, [3, 2], stride=[2, 1], padding=[1, 2], dilation=[1, 2], groups=2, bias=False), [r(2, 4, 7, 6)]))
    add(run_case('Conv2d groups with bias', nn.Conv2d(4, 4, 3, padding=1, groups=4), ts('Conv2d', 4, 4, 3, padding=1, groups=4), [r(2, 4, 5, 5)]))
    add(run_case('Conv2d same even kernel', nn.Conv2d(2, 3, 4, padding='same'), ts('Conv2d', 2, 3, 4, padding='same'), [r(2, 2, 6, 5)]))
    add(run_case('Conv2d valid stride 3', nn.Conv2d(2, 3, 2, stride=3, padding='valid'), ts('Conv2d', 2, 3, 2, stride=3, padding='valid'), [r(1, 2, 8, 7)]))
    for mode in ['reflect', 'replicate', 'circular']:
        add(run_case(f'Conv2d padding_mode {mode}', nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode),
                     ts('Conv2d', 2, 3, 3, padding=[1, 2], paddingMode=mode), [r(2, 2, 5, 6)]))
    add(run_case('Conv2d unbatched input', nn.Conv2d(2, 3, 3, padding=1), ts('Conv2d', 2, 3, 3, padding=1), [r(2, 5, 5)]))
    add(run_case('ConvTranspose2d stride output_padding', nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1),
                 ts('ConvTranspose2d', 3, 4, 3, stride=2, padding=1, outputPadding=1), [r(2, 3, 4, 5)]))
    add(run_case('ConvTranspose2d groups dilation no bias', nn.ConvTranspose2d(4, 6, (3, 2), stride=(2, 1), groups=2, dilation=(1, 2), bias=False),
                 ts('ConvTranspose2d', 4, 6, [3, 2], stride=[2, 1], groups=2, dilation=[1, 2], bias=False), [r(2, 4, 3, 4)]))

    # pooling
    add(run_case('MaxPool1d', nn.MaxPool1d(3, stride=2, padding=1), ts('MaxPool1d', 3, stride=2, padding=1), [r(2, 3, 10)]))
    add(run_case('MaxPool1d indices', nn.MaxPool1d(2, return_indices=True), ts('MaxPool1d', 2, returnIndices=True), [r(2, 2, 7)], returns_indices=True))
    add(run_case('MaxPool2d', nn.MaxPool2d(2), ts('MaxPool2d', 2), [r(2, 3, 6, 6)]))
    add(run_case('MaxPool2d stride padding ceil indices', nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True, return_indices=True),
                 ts('MaxPool2d', 3, stride=2, padding=1, ceilMode=True, returnIndices=True), [r(2, 2, 8, 7)], returns_indices=True))
    add(run_case('MaxPool2d dilation', nn.MaxPool2d(2, stride=1, dilation=2), ts('MaxPool2d', 2, stride=1, dilation=2), [r(1, 2, 6, 5)]))
    add(run_case('MaxPool2d unbatched rect', nn.MaxPool2d((2, 3), stride=(1, 2)), ts('MaxPool2d', [2, 3], stride=[1, 2]), [r(2, 5, 7)]))
    add(run_case('AvgPool2d', nn.AvgPool2d(2), ts('AvgPool2d', 2), [r(2, 3, 6, 6)]))
    add(run_case('AvgPool2d padding ceil exclude pad', nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
                 ts('AvgPool2d', 3, stride=2, padding=1, ceilMode=True, countIncludePad=False), [r(2, 2, 8, 7)]))
    add(run_case('AvgPool2d padding include pad', nn.AvgPool2d(3, stride=2, padding=1), ts('AvgPool2d', 3, stride=2, padding=1), [r(1, 2, 7, 7)]))
    add(run_case('AvgPool2d divisor override', nn.AvgPool2d(2, divisor_override=3), ts('AvgPool2d', 2, divisorOverride=3), [r(1, 2, 4, 6)]))
    add(run_case('AdaptiveAvgPool2d 1x1', nn.AdaptiveAvgPool2d((1, 1)), ts('AdaptiveAvgPool2d', [1, 1]), [r(2, 3, 5, 4)]))
    add(run_case('AdaptiveAvgPool2d uneven', nn.AdaptiveAvgPool2d((3, 2)), ts('AdaptiveAvgPool2d', [3, 2]), [r(2, 2, 7, 5)]))
    add(run_case('AdaptiveAvgPool2d divisible', nn.AdaptiveAvgPool2d(2), ts('AdaptiveAvgPool2d', 2), [r(1, 2, 4, 6)]))
    add(run_case('AdaptiveAvgPool2d None', nn.AdaptiveAvgPool2d((None, 3)), ts('AdaptiveAvgPool2d', [None, 3]), [r(1, 2, 4, 7)]))

    # normalization
    add(run_case('BatchNorm1d train 2-D', nn.BatchNorm1d(4), ts('BatchNorm1d', 4), [r(6, 4)], train=True))
    add(run_case('BatchNorm1d train 3-D', nn.BatchNorm1d(3, momentum=0.3), ts('BatchNorm1d', 3, momentum=0.3), [r(4, 3, 5)], train=True, randomize_buffers=True))
    add(run_case('BatchNorm2d train', nn.BatchNorm2d(3), ts('BatchNorm2d', 3), [r(4, 3, 5, 5)], train=True, randomize_buffers=True))
    add(run_case('BatchNorm2d eval', nn.BatchNorm2d(3), ts('BatchNorm2d', 3), [r(2, 3, 4, 4)], train=False, randomize_buffers=True))
    add(run_case('BatchNorm2d momentum None', nn.BatchNorm2d(3, momentum=None), ts('BatchNorm2d', 3, momentum=None), [r(2, 3, 4, 4)], train=True, randomize_buffers=True))
    add(run_case('BatchNorm2d no affine no stats', nn.BatchNorm2d(3, affine=False, track_running_stats=False),
                 ts('BatchNorm2d', 3, affine=False, trackRunningStats=False), [r(2, 3, 4, 4)], train=False))
    add(run_case('BatchNorm2d eps', nn.BatchNorm2d(2, eps=1e-3), ts('BatchNorm2d', 2, eps=1e-3), [r(3, 2, 3, 3)], train=True))
    add(run_case('LayerNorm', nn.LayerNorm(6), ts('LayerNorm', 6), [r(3, 6)]))
    add(run_case('LayerNorm 2-D shape', nn.LayerNorm([4, 5]), ts('LayerNorm', [4, 5]), [r(2, 3, 4, 5)]))
    add(run_case('LayerNorm no affine', nn.LayerNorm(5, eps=1e-6, elementwise_affine=False), ts('LayerNorm', 5, eps=1e-6, elementwiseAffine=False), [r(4, 5)]))
    add(run_case('GroupNorm', nn.GroupNorm(2, 6), ts('GroupNorm', 2, 6), [r(3, 6, 4)]))
    add(run_case('GroupNorm 4-D no affine', nn.GroupNorm(3, 6, affine=False), ts('GroupNorm', 3, 6, affine=False), [r(2, 6, 3, 3)]))

    # embedding, dropout (eval), shape layers
    idx = torch.tensor([[1, 2, 3], [2, 5, 9]])
    add(run_case('Embedding padding_idx', nn.Embedding(10, 4, padding_idx=2), ts('Embedding', 10, 4, paddingIdx=2), [idx]))
    add(run_case('Embedding max_norm', nn.Embedding(10, 4, max_norm=1.0), ts('Embedding', 10, 4, maxNorm=1.0), [idx]))
    add(run_case('Embedding scale_grad_by_freq negative padding', nn.Embedding(6, 3, padding_idx=-1, scale_grad_by_freq=True),
                 ts('Embedding', 6, 3, paddingIdx=-1, scaleGradByFreq=True), [torch.tensor([0, 1, 1, 5, 3, 1])]))
    add(run_case('Dropout eval', nn.Dropout(0.3), ts('Dropout', 0.3), [r(3, 4)]))
    add(run_case('Flatten', nn.Flatten(), ts('Flatten'), [r(2, 3, 2, 2)]))
    add(run_case('Flatten dims', nn.Flatten(0, 1), ts('Flatten', 0, 1), [r(2, 3, 2)]))
    add(run_case('Unflatten', nn.Unflatten(1, (2, 3)), ts('Unflatten', 1, [2, 3]), [r(2, 6, 2)]))
    add(run_case('Identity', nn.Identity(), ts('Identity'), [r(2, 3)]))

    # activations
    x = r(3, 5) * 3
    add(run_case('ReLU', nn.ReLU(), ts('ReLU'), [x]))
    add(run_case('LeakyReLU', nn.LeakyReLU(0.2), ts('LeakyReLU', 0.2), [x]))
    add(run_case('LeakyReLU default', nn.LeakyReLU(), ts('LeakyReLU'), [x]))
    add(run_case('GELU', nn.GELU(), ts('GELU'), [x]))
    add(run_case('GELU tanh', nn.GELU(approximate='tanh'), ts('GELU', approximate='tanh'), [x]))
    add(run_case('SiLU', nn.SiLU(), ts('SiLU'), [x]))
    add(run_case('Tanh', nn.Tanh(), ts('Tanh'), [x]))
    add(run_case('Sigmoid', nn.Sigmoid(), ts('Sigmoid'), [x]))
    add(run_case('Softmax', nn.Softmax(dim=1), ts('Softmax', 1), [x]))
    add(run_case('Softmax implicit dim 3-D', nn.Softmax(), ts('Softmax'), [r(3, 2, 4)]))
    add(run_case('LogSoftmax', nn.LogSoftmax(dim=-1), ts('LogSoftmax', -1), [x]))
    write('layers.json', {'cases': cases})

    # models: a small CNN (with data) and the MLP (structure only)
    torch.manual_seed(1)
    cnn = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(16, 10))
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    named = nn.Sequential()
    named.add_module('features', nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()))
    named.add_module('pool', nn.AdaptiveAvgPool2d(1))
    named.add_module('head', nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(4, 2)))
    models = {}
    for name, m in [('cnn', cnn), ('mlp', mlp), ('named', named)]:
        models[name] = {
            'repr': repr(m),
            'keys': list(m.state_dict().keys()),
            'shapes': {k: list(v.shape) for k, v in m.state_dict().items()},
            'numParameters': sum(p.numel() for p in m.parameters()),
            'parameterNames': [k for k, _ in m.named_parameters()],
            'bufferNames': [k for k, _ in m.named_buffers()],
            'moduleNames': [k for k, _ in m.named_modules()],
        }
    cnn.train()
    state = {k: enc(v) for k, v in cnn.state_dict().items()}
    x = torch.rand(2, 1, 12, 12)
    xi = x.clone().requires_grad_()
    out = cnn(xi)
    gout = torch.randn_like(out)
    (out * gout).sum().backward()
    models['cnn'].update({
        'state': state, 'input': enc(x), 'output': enc(out), 'gout': enc(gout), 'gradInput': enc(xi.grad),
        'gradParams': {k: enc(p.grad) for k, p in cnn.named_parameters()},
        'stateAfter': {k: enc(v) for k, v in cnn.state_dict().items()},
    })
    write('models.json', models)


if __name__ == '__main__':
    main()
