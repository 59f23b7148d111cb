#!/usr/bin/python3
"""Writes the fixtures for test/optim.test.ts into test/fixtures/optim/.

Run with Debian's interpreter, the one python3-torch is installed for:
    /usr/bin/python3 scripts/gen_optim_fixtures.py

Files written (small JSON, float64 values printed exactly):
  optimizers.json   for SGD, Adam, AdamW, RMSprop and Adagrad under several option sets and
                    param-group layouts: two problems with fixed starting weights, parameter
                    trajectories over 6 steps (foreach=False), the state dict after step 3 (to
                    check loading a PyTorch state dict) and after the last step; plus float32
                    trajectories of the 'fixed' problem
                      'linear': loss = mean((X @ W + b - Y)^2), gradients by autograd
                      'fixed':  gradients given per step (None = that parameter has no grad)
  schedulers.json   learning-rate sequences (get_last_lr() after construction and after each
                    step) of StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR,
                    OneCycleLR (cos/linear/three-phase, momentum and Adam beta1 cycling) and
                    ReduceLROnPlateau fed a fixed metric sequence; plus closed forms (step(epoch))
"""
import json
import os
import warnings

import torch

from fixture_util import fixture_dir

warnings.filterwarnings('ignore')
torch.set_default_dtype(torch.float64)
OUT = fixture_dir('optim')
STEPS = 6
MID = 3


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def enc(t):
    return {'shape': list(t.shape), 'values': flat(t)}


def enc_value(v):
    if torch.is_tensor(v):
        return enc(v)
    if isinstance(v, tuple):
        return list(v)
    return v


def enc_state_dict(sd):
    state = {str(k): {kk: enc_value(vv) for kk, vv in s.items()} for k, s in sd['state'].items()}
    groups = [{k: enc_value(v) for k, v in g.items()} for g in sd['param_groups']]
    return {'state': state, 'param_groups': groups}


g = torch.Generator().manual_seed(1234)
LINEAR = {
    'X': torch.randn(6, 3, generator=g),
    'Y': torch.randn(6, 2, generator=g),
    'W0': torch.randn(3, 2, generator=g),
    'b0': torch.randn(2, generator=g),
}
FIXED_INIT = [torch.randn(4, generator=g), torch.randn(2, 3, generator=g)]
FIXED_GRADS = []
for step in range(STEPS):
    g0 = torch.randn(4, generator=g)
    g1 = None if step == 2 else torch.randn(2, 3, generator=g)  # step 3 (1-based): p1 has no gradient
    FIXED_GRADS.append([g0, g1])

OPTIMS = {
    'SGD': torch.optim.SGD, 'Adam': torch.optim.Adam, 'AdamW': torch.optim.AdamW,
    'RMSprop': torch.optim.RMSprop, 'Adagrad': torch.optim.Adagrad,
}


def run_case(name, problem, options, groups=None, dtype=torch.float64):
    if problem == 'linear':
        params = [LINEAR['W0'].clone().requires_grad_(), LINEAR['b0'].clone().requires_grad_()]
    else:
        params = [t.clone().to(dtype).requires_grad_() for t in FIXED_INIT]
    if groups is None:
        opt = OPTIMS[name](params, foreach=False, **options)
    else:
        pg = []
        for grp in groups:
            d = {k: v for k, v in grp.items() if k != 'params'}
            d['params'] = [params[i] for i in grp['params']]
            pg.append(d)
        opt = OPTIMS[name](pg, foreach=False, **options)
    traj, losses = [], []
    mid_state = None
    for step in range(STEPS):
        opt.zero_grad(set_to_none=True)
        if problem == 'linear':
            W, b = params
            loss = ((LINEAR['X'] @ W + b - LINEAR['Y']) ** 2).mean()
            loss.backward()
            losses.append(loss.item())
        else:
            for p, gr in zip(params, FIXED_GRADS[step]):
                p.grad = None if gr is None else gr.clone().to(dtype)
        opt.step()
        traj.append([flat(p) for p in params])
        if step + 1 == MID:
            mid_state = enc_state_dict(opt.state_dict())
    case = {
        'name': name, 'problem': problem, 'options': options, 'groups': groups, 'steps': STEPS, 'traj': traj,
    }
    if dtype == torch.float32:
        case['dtype'] = 'float32'  # trajectory only (float32 arithmetic; values as float64 numbers)
    else:
        case.update({'mid_step': MID, 'mid_state': mid_state, 'final_state': enc_state_dict(opt.state_dict())})
    if losses:
        case['losses'] = losses
    return case


CASES = [
    ('SGD', {'lr': 0.1}),
    ('SGD', {'lr': 0.1, 'momentum': 0.9}),
    ('SGD', {'lr': 0.05, 'momentum': 0.9, 'dampening': 0.1, 'weight_decay': 0.01}),
    ('SGD', {'lr': 0.05, 'momentum': 0.9, 'nesterov': True, 'weight_decay': 0.1}),
    ('SGD', {'lr': 0.1, 'momentum': 0.5, 'maximize': True}),
    ('SGD', {'lr': 0.1, 'weight_decay': 0.2, 'maximize': True}),
    ('Adam', {'lr': 0.01}),
    ('Adam', {'lr': 0.01, 'betas': (0.8, 0.99), 'eps': 1e-6, 'weight_decay': 0.1}),
    ('Adam', {'lr': 0.02, 'amsgrad': True}),
    ('Adam', {'lr': 0.01, 'maximize': True, 'weight_decay': 0.05, 'amsgrad': True}),
    ('AdamW', {'lr': 0.01}),
    ('AdamW', {'lr': 0.01, 'weight_decay': 0.1, 'amsgrad': True}),
    ('AdamW', {'lr': 0.05, 'betas': (0.5, 0.9), 'weight_decay': 0.0}),
    ('AdamW', {'lr': 0.03, 'maximize': True}),
    ('RMSprop', {'lr': 0.01}),
    ('RMSprop', {'lr': 0.01, 'alpha': 0.9, 'eps': 1e-6, 'weight_decay': 0.1}),
    ('RMSprop', {'lr': 0.01, 'momentum': 0.9}),
    ('RMSprop', {'lr': 0.01, 'centered': True, 'momentum': 0.5}),
    ('RMSprop', {'lr': 0.01, 'centered': True, 'maximize': True}),
    ('Adagrad', {'lr': 0.1}),
    ('Adagrad', {'lr': 0.1, 'lr_decay': 0.01, 'weight_decay': 0.1}),
    ('Adagrad', {'lr': 0.1, 'initial_accumulator_value': 0.5, 'eps': 1e-6}),
    ('Adagrad', {'lr': 0.05, 'maximize': True}),
]
GROUP_CASES = [
    ('SGD', {'lr': 0.01, 'momentum': 0.5}, [{'params': [0], 'lr': 0.1, 'momentum': 0.9}, {'params': [1]}]),
    ('Adam', {'lr': 0.01}, [{'params': [0]}, {'params': [1], 'lr': 0.05, 'betas': (0.5, 0.6)}]),
    ('AdamW', {'lr': 0.01, 'weight_decay': 0.1}, [{'params': [1], 'weight_decay': 0.0}, {'params': [0], 'lr': 0.03}]),
    ('RMSprop', {'lr': 0.01}, [{'params': [0], 'centered': True}, {'params': [1], 'lr': 0.001, 'momentum': 0.9}]),
    ('Adagrad', {'lr': 0.1}, [{'params': [0], 'lr_decay': 0.1}, {'params': [1], 'lr': 0.2}]),
]

cases = []
for name, opts in CASES:
    for problem in ('linear', 'fixed'):
        cases.append(run_case(name, problem, opts))
for name, opts in CASES:
    cases.append(run_case(name, 'fixed', opts, dtype=torch.float32))
for name, opts, groups in GROUP_CASES:
    for problem in ('linear', 'fixed'):
        cases.append(run_case(name, problem, opts, groups))

with open(os.path.join(OUT, 'optimizers.json'), 'w') as f:
    json.dump({
        'problems': {
            'linear': {k: enc(v) for k, v in LINEAR.items()},
            'fixed': {
                'init': [enc(t) for t in FIXED_INIT],
                'grads': [[None if gr is None else enc(gr) for gr in step] for step in FIXED_GRADS],
            },
        },
        'cases': cases,
    }, f)

# ---------------------------------------------------------------- schedulers

S = torch.optim.lr_scheduler


def make_opt(kind, lrs):
    ps = [torch.zeros(2, requires_grad=True) for _ in lrs]
    groups = [{'params': [p], 'lr': lr} for p, lr in zip(ps, lrs)]
    if kind == 'Adam':
        return torch.optim.Adam(groups, betas=(0.9, 0.999))
    return torch.optim.SGD(groups, lr=0.1, momentum=0.0)


def momenta(opt):
    return [(g['betas'][0] if 'betas' in g else g['momentum']) for g in opt.param_groups]


def sched_case(cls, args, opt_kind='SGD', lrs=(0.1, 0.02), steps=30, metrics=None, epochs=None):
    opt = make_opt(opt_kind, lrs)
    ctor_args = dict(args)
    s = getattr(S, cls)(opt, **ctor_args)
    seq = [list(s.get_last_lr()) if hasattr(s, 'get_last_lr') and hasattr(s, '_last_lr') else [g['lr'] for g in opt.param_groups]]
    mom = [momenta(opt)]
    if metrics is not None:
        for m in metrics:
            opt.step()
            s.step(m)
            seq.append(list(s._last_lr))
            mom.append(momenta(opt))
    elif epochs is not None:
        for e in epochs:
            opt.step()
            s.step(e)
            seq.append(list(s.get_last_lr()))
            mom.append(momenta(opt))
    else:
        for _ in range(steps):
            opt.step()
            s.step()
            seq.append(list(s.get_last_lr()))
            mom.append(momenta(opt))
    out = {'cls': cls, 'args': {k: (list(v) if isinstance(v, tuple) else v) for k, v in args.items()},
           'optimizer': opt_kind, 'group_lrs': list(lrs), 'lrs': seq}
    if cls == 'OneCycleLR':
        out['momentum'] = mom
    if metrics is not None:
        out['metrics'] = metrics
    if epochs is not None:
        out['epochs'] = epochs
    return out


metric_seq = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.89, 0.9, 0.9, 0.91, 0.92, 0.93, 0.94, 0.5, 0.5, 0.5,
              0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
rising = [0.1, 0.2, 0.2, 0.25, 0.25, 0.25, 0.25, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.31, 0.31, 0.31,
          0.31, 0.31, 0.31, 0.31]

sched = [
    sched_case('StepLR', {'step_size': 3, 'gamma': 0.5}),
    sched_case('StepLR', {'step_size': 7}),
    sched_case('MultiStepLR', {'milestones': [2, 5, 5, 11], 'gamma': 0.3}),
    sched_case('MultiStepLR', {'milestones': [10, 20]}),
    sched_case('ExponentialLR', {'gamma': 0.9}),
    sched_case('ExponentialLR', {'gamma': 0.7}, steps=25),
    sched_case('CosineAnnealingLR', {'T_max': 10, 'eta_min': 0.001}, steps=45),
    sched_case('CosineAnnealingLR', {'T_max': 7}, steps=30),
    sched_case('LinearLR', {}),
    sched_case('LinearLR', {'start_factor': 0.25, 'end_factor': 0.75, 'total_iters': 8}),
    sched_case('LinearLR', {'start_factor': 1.0, 'end_factor': 0.2, 'total_iters': 12}),
    sched_case('OneCycleLR', {'max_lr': 0.5, 'total_steps': 25}, steps=24),
    sched_case('OneCycleLR', {'max_lr': 0.5, 'total_steps': 25, 'anneal_strategy': 'linear'}, steps=24),
    sched_case('OneCycleLR', {'max_lr': [0.4, 0.2], 'total_steps': 30, 'three_phase': True}, steps=29),
    sched_case('OneCycleLR', {'max_lr': 0.5, 'total_steps': 30, 'three_phase': True, 'anneal_strategy': 'linear'}, steps=29),
    sched_case('OneCycleLR', {'max_lr': 0.01, 'epochs': 4, 'steps_per_epoch': 6, 'pct_start': 0.25,
                              'div_factor': 10.0, 'final_div_factor': 100.0}, opt_kind='Adam', steps=23),
    sched_case('OneCycleLR', {'max_lr': 0.3, 'total_steps': 22, 'cycle_momentum': False}, steps=21),
    sched_case('OneCycleLR', {'max_lr': 1.0, 'total_steps': 20, 'base_momentum': [0.8, 0.7],
                              'max_momentum': [0.9, 0.99], 'pct_start': 0.4}, steps=20),
    sched_case('ReduceLROnPlateau', {'patience': 2}, metrics=metric_seq),
    sched_case('ReduceLROnPlateau', {'mode': 'min', 'factor': 0.5, 'patience': 1, 'threshold': 0.05,
                                     'threshold_mode': 'abs', 'cooldown': 2, 'min_lr': [0.01, 0.004]},
               metrics=metric_seq),
    sched_case('ReduceLROnPlateau', {'mode': 'max', 'factor': 0.2, 'patience': 3, 'min_lr': 0.001}, metrics=rising),
    sched_case('ReduceLROnPlateau', {'mode': 'max', 'threshold_mode': 'abs', 'threshold': 0.02, 'patience': 0,
                                     'factor': 0.5, 'eps': 0.01}, metrics=rising),
    # closed forms (step(epoch))
    sched_case('StepLR', {'step_size': 3, 'gamma': 0.5}, epochs=[1, 2, 5, 9, 3, 20, 21]),
    sched_case('MultiStepLR', {'milestones': [2, 5, 5, 11], 'gamma': 0.3}, epochs=[1, 4, 5, 12, 3, 11]),
    sched_case('ExponentialLR', {'gamma': 0.9}, epochs=[3, 7, 1, 20]),
    sched_case('CosineAnnealingLR', {'T_max': 10, 'eta_min': 0.001}, epochs=[1, 5, 10, 13, 27, 2]),
    sched_case('LinearLR', {'start_factor': 0.25, 'end_factor': 0.75, 'total_iters': 8}, epochs=[1, 4, 8, 12, 2]),
]
with open(os.path.join(OUT, 'schedulers.json'), 'w') as f:
    json.dump({'cases': sched}, f)
print('wrote', len(cases), 'optimizer cases and', len(sched), 'scheduler cases to', os.path.normpath(OUT))
