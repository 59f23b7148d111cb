// torch.optim and torch.optim.lr_scheduler against PyTorch fixtures (scripts/gen_optim_fixtures.py).
import t from 'tap';
import * as torch from '../src/index.js';
import { Tensor } from '../src/index.js';
import { Optimizer, SGD, Adam, AdamW, RMSprop, Adagrad, lrScheduler, snakeToCamel, camelToSnake, type OptimizerStateDict } from '../src/optim/index.js';
import { setFusedUpdates } from '../src/optim/fused.js';
import { loadFixture } from './helpers/fixtures.js';
import { throwsTorch } from './helpers/assert.js';

const optFix = loadFixture('optim', 'optimizers.json');
const schedFix = loadFixture('optim', 'schedulers.json');

type Enc = { shape: number[]; values: number[] };
const TOL = 1e-9;

function dec(e: Enc, dtype: 'float32' | 'float64' = 'float64'): Tensor { return torch.tensor(e.values, { dtype }).reshape(e.shape); }
function flat(x: Tensor): number[] { return Array.from(x.reshape(-1).dataSync()); }
function maxDiff(a: number[], b: number[]): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return m;
}
function isEnc(v: unknown): v is Enc { return typeof v === 'object' && v !== null && 'shape' in v && 'values' in v; }

const CTORS: Record<string, new (p: any, o?: any) => Optimizer> = { SGD, Adam, AdamW, RMSprop, Adagrad };
/** Fixture options (snake_case) as constructor options (camelCase). */
function camelOpts(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [snakeToCamel(k), v]));
}

interface Case {
  name: string; problem: 'linear' | 'fixed'; options: Record<string, unknown>; groups: Record<string, unknown>[] | null;
  steps: number; traj: number[][][]; mid_step: number; mid_state: any; final_state: any; losses?: number[]; dtype?: 'float32';
}

const P = optFix.problems;
const X = dec(P.linear.X), Y = dec(P.linear.Y);

function initialParams(c: Case): Tensor[] {
  const init: Enc[] = c.problem === 'linear' ? [P.linear.W0, P.linear.b0] : P.fixed.init;
  return init.map((e) => dec(e, c.dtype).requiresGrad_());
}
function paramsAt(c: Case, step: number): Tensor[] {
  const shapes: number[][] = c.problem === 'linear' ? [P.linear.W0.shape, P.linear.b0.shape] : P.fixed.init.map((e: Enc) => e.shape);
  return c.traj[step - 1].map((v, i) => torch.tensor(v, { dtype: 'float64' }).reshape(shapes[i]).requiresGrad_());
}
function makeOptimizer(c: Case, params: Tensor[]): Optimizer {
  const Ctor = CTORS[c.name];
  if (!c.groups) return new Ctor(params, camelOpts(c.options));
  const groups = c.groups.map((g) => {
    const { params: idx, ...rest } = g as { params: number[] };
    return { ...camelOpts(rest), params: idx.map((i) => params[i]) };
  });
  return new Ctor(groups, camelOpts(c.options));
}
/** Sets gradients for step `step` (0-based) and returns the loss (linear problem). */
function setGrads(c: Case, params: Tensor[], step: number, opt: Optimizer): number | undefined {
  opt.zeroGrad();
  if (c.problem === 'linear') {
    const [W, b] = params;
    const loss = X.matmul(W).add(b).sub(Y).pow(2).mean();
    loss.backward();
    return loss.item();
  }
  P.fixed.grads[step].forEach((g: Enc | null, i: number) => { params[i].grad = g ? dec(g, c.dtype) : null; });
  return undefined;
}
/** A fixture state dict (encoded) as a loadable one (tensors, tuples as arrays). */
function decodeStateDict(sd: any): OptimizerStateDict {
  const state: Record<string, Record<string, unknown>> = {};
  for (const [k, s] of Object.entries(sd.state as Record<string, Record<string, unknown>>))
    state[k] = Object.fromEntries(Object.entries(s).map(([kk, v]) => [kk, isEnc(v) ? dec(v) : v]));
  return { state, param_groups: sd.param_groups };
}
function caseName(c: Case): string {
  return `${c.name} ${JSON.stringify(c.options)}${c.groups ? ` groups ${JSON.stringify(c.groups)}` : ''} (${c.problem}${c.dtype ? `, ${c.dtype}` : ''})`;
}
/** Options PyTorch keeps in param groups that torchlet has no use for. */
const PT_ONLY = new Set(['foreach', 'differentiable', 'capturable', 'fused']);

function compareState(tt: any, ours: OptimizerStateDict, theirs: any, what: string): void {
  tt.same(Object.keys(ours.state).sort(), Object.keys(theirs.state).filter((k) => Object.values(theirs.state[k]).some((v) => v !== null)).sort(), `${what}: state entries`);
  for (const [k, s] of Object.entries(theirs.state as Record<string, Record<string, unknown>>)) {
    for (const [kk, v] of Object.entries(s)) {
      if (v === null) continue;
      const mine = (ours.state as any)[k]?.[kk];
      if (kk === 'step') {
        tt.ok(mine instanceof Tensor && mine.ndim === 0 && mine.dtype === 'float32', `${what}: state ${k}.step is a 0-d float32 tensor`);
        tt.equal(mine.item(), isEnc(v) ? v.values[0] : v, `${what}: state ${k}.step`);
      } else {
        const d = maxDiff(flat(mine as Tensor), (v as Enc).values);
        tt.ok(d < TOL, `${what}: state ${k}.${kk} (max rel diff ${d})`);
      }
    }
  }
  tt.equal(ours.param_groups.length, theirs.param_groups.length, `${what}: group count`);
  theirs.param_groups.forEach((g: Record<string, unknown>, i: number) => {
    const mine = ours.param_groups[i];
    for (const [k, v] of Object.entries(g)) {
      if (PT_ONLY.has(k)) continue;
      tt.same(mine[k], v, `${what}: param_groups[${i}].${k}`);
    }
  });
}

/** Float32 cases: PyTorch rounds after every op, the fused path once per stored value. */
const TOL32 = 2e-6;

for (const fused of [true, false]) {
  const mode = fused ? 'fused cpu path' : 'tensor-op path';
  t.test(`optimizers follow PyTorch trajectories (6 steps, ${mode})`, async (tt) => {
    setFusedUpdates(fused);
    tt.teardown(() => setFusedUpdates(true));
    for (const c of optFix.cases as Case[]) {
      const name = caseName(c);
      const params = initialParams(c);
      const opt = makeOptimizer(c, params);
      let worst = 0;
      for (let s = 0; s < c.steps; s++) {
        const loss = setGrads(c, params, s, opt);
        if (c.losses) tt.ok(Math.abs(loss! - c.losses[s]) < 1e-12, `${name}: loss at step ${s + 1}`);
        opt.step();
        params.forEach((p, i) => { worst = Math.max(worst, maxDiff(flat(p), c.traj[s][i])); });
      }
      tt.ok(worst < (c.dtype ? TOL32 : TOL), `${name}: trajectory (max rel diff ${worst.toExponential(2)})`);
      if (!c.dtype) compareState(tt, opt.stateDict(), c.final_state, name);
    }
  });

  t.test(`loading a PyTorch-saved state dict mid-run continues the PyTorch trajectory (${mode})`, async (tt) => {
    setFusedUpdates(fused);
    tt.teardown(() => setFusedUpdates(true));
    for (const c of (optFix.cases as Case[]).filter((k) => k.mid_state)) {
      const name = caseName(c);
      const params = paramsAt(c, c.mid_step);
      const opt = makeOptimizer(c, params);
      opt.loadStateDict(decodeStateDict(c.mid_state));
      let worst = 0;
      for (let s = c.mid_step; s < c.steps; s++) {
        setGrads(c, params, s, opt);
        opt.step();
        params.forEach((p, i) => { worst = Math.max(worst, maxDiff(flat(p), c.traj[s][i])); });
      }
      tt.ok(worst < TOL, `${name}: resumed trajectory (max rel diff ${worst.toExponential(2)})`);
    }
  });
}

t.test('fused and tensor-op updates agree on float32 and on non-contiguous parameters', async (tt) => {
  const make = () => {
    torch.manualSeed(3);
    const a = torch.randn([5, 4]).t().detach().requiresGrad_(); // a non-contiguous leaf
    const b = torch.randn([7], { requiresGrad: true });
    return [a, b];
  };
  for (const [name, Ctor, opts] of [
    ['SGD', SGD, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.1 }], ['Adam', Adam, { lr: 0.01, amsgrad: true, weightDecay: 0.1 }],
    ['AdamW', AdamW, { lr: 0.01, betas: [0.3, 0.9] }], ['RMSprop', RMSprop, { lr: 0.01, centered: true, momentum: 0.5, maximize: true }],
    ['Adagrad', Adagrad, { lr: 0.1, lrDecay: 0.1, weightDecay: 0.1 }],
  ] as [string, new (p: any, o: any) => Optimizer, any][]) {
    const runs = [true, false].map((fused) => {
      setFusedUpdates(fused);
      const ps = make();
      tt.notOk(ps[0].isContiguous(), 'a non-contiguous parameter');
      const opt = new Ctor(ps, opts);
      for (let s = 0; s < 5; s++) {
        opt.zeroGrad();
        ps[0].square().sum().add(ps[1].sin().sum()).backward();
        opt.step();
      }
      return ps.map(flat);
    });
    setFusedUpdates(true);
    const d = Math.max(maxDiff(runs[0][0], runs[1][0]), maxDiff(runs[0][1], runs[1][1]));
    tt.ok(d < 1e-6, `${name}: float32 fused vs tensor ops (max rel diff ${d.toExponential(2)})`);
  }
});

t.test('stateDict / loadStateDict round trip', async (tt) => {
  const cases = (optFix.cases as Case[]).filter((c) => c.problem === 'fixed' && !c.dtype);
  for (const c of cases) {
    const name = caseName(c);
    const a = initialParams(c), b = initialParams(c);
    const oa = makeOptimizer(c, a);
    for (let s = 0; s < 3; s++) { setGrads(c, a, s, oa); oa.step(); }
    b.forEach((p, i) => torch.noGrad(() => p.copy_(a[i])));
    const ob = makeOptimizer(c, b);
    const sd = oa.stateDict();
    ob.loadStateDict(sd);
    // loading copies: the two optimizers' state tensors are independent
    for (const [p, st] of ob.state) for (const [k, v] of Object.entries(st))
      if (v instanceof Tensor) tt.not(v, oa.state.get(a[b.indexOf(p)])![k], `${name}: ${k} is a copy`);
    tt.same(ob.paramGroups.map((g) => ({ ...g, params: g.params.length })), oa.paramGroups.map((g) => ({ ...g, params: g.params.length })), `${name}: groups`);
    for (let s = 3; s < c.steps; s++) {
      setGrads(c, a, s, oa); oa.step();
      setGrads(c, b, s, ob); ob.step();
    }
    tt.same(b.map(flat), a.map(flat), `${name}: continued identically`);
  }
});

t.test('state dict layout is PyTorch\'s', async (tt) => {
  const w = torch.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
  const b = torch.tensor([3], { dtype: 'float64', requiresGrad: true });
  const opt = new AdamW([{ params: [w], weightDecay: 0.5 }, { params: b, lr: 0.1 }], { betas: [0.8, 0.9], amsgrad: true });
  w.grad = torch.tensor([0.1, 0.2], { dtype: 'float64' });
  opt.step();
  const sd = opt.stateDict();
  tt.same(Object.keys(sd.state), ['0'], 'only parameters with state are listed');
  tt.same(Object.keys(sd.state[0]).sort(), ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'step']);
  tt.same(sd.param_groups, [
    { weight_decay: 0.5, lr: 0.001, betas: [0.8, 0.9], eps: 1e-8, amsgrad: true, maximize: false, params: [0] },
    { lr: 0.1, betas: [0.8, 0.9], eps: 1e-8, weight_decay: 0.01, amsgrad: true, maximize: false, params: [1] },
  ]);
  tt.equal(sd.state[0].exp_avg, opt.state.get(w)!.expAvg, 'stateDict holds the live state tensors, as PyTorch');
  // extra PyTorch keys (foreach, capturable, initial_lr) survive a load/save cycle
  const pt = { state: {}, param_groups: [{ ...sd.param_groups[0], foreach: null, initial_lr: 0.05 }, { ...sd.param_groups[1], fused: null }] };
  const opt2 = new AdamW([{ params: [w] }, { params: [b] }]);
  opt2.loadStateDict(pt as any);
  tt.equal(opt2.paramGroups[0].initialLr, 0.05);
  tt.equal(opt2.paramGroups[0].weightDecay, 0.5);
  tt.same(opt2.stateDict().param_groups[0].foreach, null);
  tt.equal(opt2.state.size, 0);
  tt.equal(camelToSnake('initialAccumulatorValue'), 'initial_accumulator_value');
  tt.equal(snakeToCamel('initial_accumulator_value'), 'initialAccumulatorValue');
  tt.equal(snakeToCamel('_step_count'), '_stepCount');
  // state loads onto the parameter's dtype
  const w32 = torch.tensor([1, 2], { dtype: 'float32', requiresGrad: true });
  const o32 = new AdamW([{ params: [w32] }, { params: [torch.zeros(1, { requiresGrad: true })] }]);
  o32.loadStateDict(sd);
  tt.equal(o32.state.get(w32)!.expAvg.dtype, 'float32');
  tt.equal(o32.state.get(w32)!.step, 1);
});

t.test('step(closure) re-evaluates the loss with gradients enabled', async (tt) => {
  const c = (optFix.cases as Case[]).find((k) => k.name === 'SGD' && k.problem === 'linear' && (k.options as any).momentum === 0.9 && !k.groups)!;
  const params = initialParams(c);
  const opt = makeOptimizer(c, params);
  for (let s = 0; s < c.steps; s++) {
    const loss = torch.noGrad(() => opt.step(() => {
      opt.zeroGrad();
      tt.ok(torch.isGradEnabled(), 'closure runs with grad enabled');
      const l = X.matmul(params[0]).add(params[1]).sub(Y).pow(2).mean();
      l.backward();
      return l;
    }));
    tt.ok(loss instanceof Tensor && Math.abs(loss.item() - c.losses![s]) < 1e-12, `closure loss at step ${s + 1}`);
  }
  tt.ok(maxDiff(flat(params[0]), c.traj[c.steps - 1][0]) < TOL);
  tt.equal(opt.step(), undefined, 'no closure: undefined');
});

t.test('zeroGrad, grads of null, non-float32 params, updates leave no graph', async (tt) => {
  const w = torch.tensor([1, 2, 3], { dtype: 'float32', requiresGrad: true });
  const opt = new SGD([w], { lr: 0.5 });
  w.mul(w).sum().backward();
  opt.zeroGrad({ setToNone: false });
  tt.same(w.grad!.tolist(), [0, 0, 0], 'setToNone: false zeroes in place');
  opt.zeroGrad();
  tt.equal(w.grad, null, 'default sets to null (PyTorch 2.x)');
  opt.step();
  tt.same(w.tolist(), [1, 2, 3], 'params without a gradient are not touched');
  w.mul(w).sum().backward();
  opt.step();
  tt.same(w.tolist(), [0, 0, 0]);
  tt.ok(w.isLeaf && w.requiresGrad && w.gradFn === null, 'the parameter stays a leaf');
  tt.equal(w.dtype, 'float32');
  // the update runs under noGrad even when called inside enableGrad
  const v = torch.tensor([1.5], { requiresGrad: true });
  const o = new Adam([v], { lr: 0.1 });
  v.grad = torch.tensor([1]);
  torch.enableGrad(() => o.step());
  tt.ok(Math.abs(v.item() - 1.4) < 1e-6);
  tt.equal(o.state.get(v)!.expAvg.requiresGrad, false);
});

t.test('param groups: defaults fill in, lrs differ, addParamGroup', async (tt) => {
  const a = torch.ones(2, { requiresGrad: true }), b = torch.ones(2, { requiresGrad: true }), c = torch.ones(1, { requiresGrad: true });
  const opt = new SGD([{ params: [a] }, { params: [b], lr: 1 }], { lr: 0.1, momentum: 0.9 });
  tt.equal(opt.paramGroups[0].lr, 0.1);
  tt.equal(opt.paramGroups[1].lr, 1);
  tt.equal(opt.paramGroups[1].momentum, 0.9);
  a.grad = torch.ones(2); b.grad = torch.ones(2);
  opt.step();
  tt.same(a.tolist().map((x: number) => +x.toFixed(6)), [0.9, 0.9]);
  tt.same(b.tolist(), [0, 0]);
  opt.addParamGroup({ params: c, nesterov: true });
  tt.equal(opt.paramGroups.length, 3);
  tt.equal(opt.paramGroups[2].nesterov, true);
  tt.throws(() => opt.addParamGroup({ params: [a] }), /more than one parameter group/);
  tt.match(opt.toString(), /SGD \(\nParameter Group 0\n {4}dampening: 0\n/);
  // a generator works as params (model.parameters() style)
  function* gen() { yield torch.zeros(1, { requiresGrad: true }); }
  tt.equal(new Adam(gen()).paramGroups[0].params.length, 1);
});

t.test('bad optimizer arguments give clear errors', async (tt) => {
  const p = () => [torch.zeros(2, { requiresGrad: true })];
  throwsTorch(tt, () => new SGD(p(), { lr: -0.1 }), /SGD: Invalid learning rate: -0\.1/, 'negative lr');
  throwsTorch(tt, () => new SGD(p(), { momentum: -1 }), /Invalid momentum value: -1/, 'negative momentum');
  throwsTorch(tt, () => new SGD(p(), { nesterov: true }), /Nesterov momentum requires a momentum and zero dampening/, 'nesterov without momentum');
  throwsTorch(tt, () => new SGD(p(), { lr: 0.1, momentum: 0.9, nesterov: true, dampening: 0.1 }), /zero dampening/, 'nesterov with dampening');
  throwsTorch(tt, () => new Adam(p(), { betas: [1.0, 0.999] }), /Adam: Invalid beta parameter at index 0: 1/, 'beta1 = 1');
  throwsTorch(tt, () => new AdamW(p(), { betas: [0.9, -0.1] }), /Invalid beta parameter at index 1: -0\.1/, 'negative beta2');
  throwsTorch(tt, () => new Adam(p(), { betas: [0.9] as any }), /betas must be a pair/, 'one beta');
  throwsTorch(tt, () => new Adam(p(), { eps: -1e-8 }), /Invalid epsilon value/, 'negative eps');
  throwsTorch(tt, () => new Adam(p(), { weightDecay: -1 }), /Invalid weight_decay value: -1/, 'negative weight decay');
  throwsTorch(tt, () => new RMSprop(p(), { alpha: -0.5 }), /Invalid alpha value/, 'negative alpha');
  throwsTorch(tt, () => new Adagrad(p(), { lrDecay: -1 }), /Invalid lr_decay value/, 'negative lr decay');
  throwsTorch(tt, () => new Adagrad(p(), { initialAccumulatorValue: -1 }), /initial_accumulator_value/, 'negative accumulator');
  throwsTorch(tt, () => new SGD(p(), { weight_decay: 0.1 } as any), /unknown option 'weight_decay'.*use 'weightDecay'/, 'snake_case option');
  throwsTorch(tt, () => new SGD([{ params: p(), weight_decay: 0.1 }]), /use 'weightDecay'/, 'snake_case group option');
  throwsTorch(tt, () => new SGD(p(), { lr: 0.1, foo: 1 } as any), /unknown option 'foo'/, 'unknown option');
  tt.doesNotThrow(() => new Adam(p(), { foreach: false, fused: null, capturable: false, differentiable: false } as any), 'PyTorch implementation switches are accepted');
  throwsTorch(tt, () => new SGD([{ params: p(), lr: -1 }], { lr: 0.1 }), /Invalid learning rate: -1/, 'negative lr in a group');
  throwsTorch(tt, () => new SGD([]), /empty parameter list/, 'no params');
  throwsTorch(tt, () => new SGD(torch.zeros(2, { requiresGrad: true }) as any), /iterable of Tensors/, 'a bare tensor');
  const leaf = torch.zeros(2, { requiresGrad: true });
  throwsTorch(tt, () => new SGD([leaf.mul(2)]), /non-leaf/, 'non-leaf');
  throwsTorch(tt, () => new SGD([1, 2] as any), /param group must be an object|only optimize Tensors/, 'numbers');
  throwsTorch(tt, () => new SGD([{ params: new Set([leaf]) }]), /ordered collections/, 'a Set');
  const opt = new SGD(p(), { lr: 0.1 });
  throwsTorch(tt, () => opt.loadStateDict({ state: {}, param_groups: [] }), /different number of parameter groups/, 'group count');
  throwsTorch(tt, () => opt.loadStateDict({ state: {}, param_groups: [{ lr: 1, params: [0, 1] }] }), /doesn't match the size/, 'group size');
  throwsTorch(tt, () => opt.loadStateDict({} as any), /expected a state dict/, 'not a state dict');
});

// ------------------------------------------------------------------------------ schedulers

interface SchedCase { cls: string; args: Record<string, unknown>; optimizer: 'SGD' | 'Adam'; group_lrs: number[]; lrs: number[][]; momentum?: number[][]; metrics?: number[]; epochs?: number[] }

function schedOptimizer(c: SchedCase): Optimizer {
  const groups = c.group_lrs.map((lr) => ({ params: [torch.zeros(2, { requiresGrad: true })], lr }));
  return c.optimizer === 'Adam' ? new Adam(groups, { betas: [0.9, 0.999] }) : new SGD(groups, { lr: 0.1, momentum: 0 });
}
function schedArgs(c: SchedCase): Record<string, unknown> {
  return Object.fromEntries(Object.entries(c.args).map(([k, v]) => [k === 'T_max' ? 'TMax' : snakeToCamel(k), v]));
}
function makeScheduler(c: SchedCase, opt: Optimizer): any {
  const a = schedArgs(c);
  const S = lrScheduler as any;
  return new S[c.cls](opt, a);
}
function momenta(opt: Optimizer): number[] { return opt.paramGroups.map((g) => (g.betas ? g.betas[0] : g.momentum)); }
function seqDiff(a: number[][], b: number[][]): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  a.forEach((row, i) => { m = Math.max(m, maxDiff(row, b[i])); });
  return m;
}
const STOL = 1e-13;

t.test('lr schedulers reproduce PyTorch\'s sequences', async (tt) => {
  for (const c of schedFix.cases as SchedCase[]) {
    const name = `${c.cls} ${JSON.stringify(c.args)}${c.metrics ? ' (metrics)' : ''}${c.epochs ? ` epochs ${JSON.stringify(c.epochs)}` : ''}`;
    const opt = schedOptimizer(c);
    const s = makeScheduler(c, opt);
    const lrs = [s.getLastLr()], mom = [momenta(opt)];
    const n = c.lrs.length - 1;
    for (let i = 0; i < n; i++) {
      opt.step();
      if (c.metrics) s.step(c.metrics[i]);
      else if (c.epochs) s.step(c.epochs[i]);
      else s.step();
      lrs.push(s.getLastLr());
      mom.push(momenta(opt));
    }
    const d = seqDiff(lrs, c.lrs);
    tt.ok(d < STOL, `${name}: ${n + 1} lrs (max rel diff ${d.toExponential(2)})`);
    if (d >= STOL) tt.same(lrs, c.lrs, name);
    tt.same(opt.paramGroups.map((g) => g.lr), lrs[n], `${name}: groups hold the last lrs`);
    if (c.momentum) tt.ok(seqDiff(mom, c.momentum) < STOL, `${name}: momentum / beta1 sequence`);
  }
});

t.test('scheduler stateDict round trip resumes the sequence', async (tt) => {
  for (const c of (schedFix.cases as SchedCase[]).filter((k) => !k.epochs)) {
    const name = `${c.cls} ${JSON.stringify(c.args)}`;
    const half = Math.floor((c.lrs.length - 1) / 2);
    const opt = schedOptimizer(c);
    const s = makeScheduler(c, opt);
    const stepIt = (sch: any, i: number) => (c.metrics ? sch.step(c.metrics[i]) : sch.step());
    for (let i = 0; i < half; i++) stepIt(s, i);
    const sd = JSON.parse(JSON.stringify(s.stateDict(), (_k, v) => (v === Infinity ? 'Infinity' : v === -Infinity ? '-Infinity' : v)),
      (_k, v) => (v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v));
    tt.ok('last_epoch' in sd, `${name}: PyTorch key names`);
    const opt2 = schedOptimizer(c);
    const s2 = makeScheduler(c, opt2);
    // restore the optimizer (lr, initialLr, momentum live in its groups) and then the scheduler
    opt2.loadStateDict(opt.stateDict());
    s2.loadStateDict(sd);
    const rest: number[][] = [];
    for (let i = half; i < c.lrs.length - 1; i++) { stepIt(s2, i); rest.push(s2.getLastLr()); }
    tt.ok(seqDiff(rest, c.lrs.slice(half + 1)) < STOL, `${name}: resumed`);
  }
});

t.test('scheduler details', async (tt) => {
  const opt = new SGD([torch.zeros(1, { requiresGrad: true })], { lr: 1 });
  const s = new lrScheduler.StepLR(opt, 2, { gamma: 0.5 });
  tt.equal(opt.paramGroups[0].initialLr, 1, 'initialLr set on the group');
  tt.same(s.getLastLr(), [1]);
  s.step(); s.step();
  tt.same(s.getLastLr(), [0.5]);
  tt.equal(s.lastEpoch, 2);
  // positional and options forms agree
  const o2 = new SGD([torch.zeros(1, { requiresGrad: true })], { lr: 1 });
  const m = new lrScheduler.MultiStepLR(o2, [1, 3], { gamma: 0.1 });
  m.step(); m.step(); m.step();
  tt.ok(Math.abs(m.getLastLr()[0] - 0.01) < 1e-15);
  tt.same(m.stateDict().milestones, { 1: 1, 3: 1 });
  const o3 = new SGD([torch.zeros(1, { requiresGrad: true })], { lr: 1 });
  const cos = new lrScheduler.CosineAnnealingLR(o3, 4);
  for (let i = 0; i < 4; i++) cos.step();
  tt.ok(Math.abs(cos.getLastLr()[0]) < 1e-15, 'reaches etaMin at TMax');
  tt.equal(cos.stateDict().T_max, 4);
  // ReduceLROnPlateau takes tensors as metrics
  const o4 = new SGD([torch.zeros(1, { requiresGrad: true })], { lr: 1 });
  const r = new lrScheduler.ReduceLROnPlateau(o4, { patience: 0 });
  tt.same(r.getLastLr(), [1]);
  r.step(torch.tensor(1.0)); r.step(torch.tensor(2.0));
  tt.ok(Math.abs(r.getLastLr()[0] - 0.1) < 1e-15);
  // LambdaLR: initial lr times the factor, per group
  const o6 = new SGD([{ params: [torch.zeros(1, { requiresGrad: true })], lr: 1 }, { params: [torch.zeros(1, { requiresGrad: true })], lr: 0.5 }]);
  const lam = new lrScheduler.LambdaLR(o6, [(e) => 0.9 ** e, (e) => 1 / (e + 1)]);
  tt.same(lam.getLastLr(), [1, 0.5]);
  lam.step(); lam.step();
  tt.same(lam.getLastLr(), [1 * 0.9 ** 2, 0.5 * (1 / 3)]);
  throwsTorch(tt, () => new lrScheduler.LambdaLR(o6, [(e) => e]), /Expected 2 lrLambdas, but got 1/, 'lambda count');
  // OneCycleLR refuses to step past totalSteps
  const o5 = new SGD([torch.zeros(1, { requiresGrad: true })], { lr: 1, momentum: 0.9 });
  const oc = new lrScheduler.OneCycleLR(o5, 0.1, { totalSteps: 3 });
  oc.step(); oc.step(); oc.step();
  throwsTorch(tt, () => oc.step(), /Tried to step 5 times\. The specified number of total steps is 3/, 'past totalSteps');
});

t.test('bad scheduler arguments give clear errors', async (tt) => {
  const opt = () => new SGD([torch.zeros(1, { requiresGrad: true })], { lr: 1 });
  throwsTorch(tt, () => new lrScheduler.StepLR({} as any, 1), /is not an Optimizer/, 'not an optimizer');
  throwsTorch(tt, () => new lrScheduler.StepLR(opt(), 0), /stepSize must be a positive integer/, 'stepSize 0');
  throwsTorch(tt, () => new lrScheduler.StepLR(opt(), 2, { lastEpoch: 3 }), /initialLr.*resuming/, 'resume without initialLr');
  throwsTorch(tt, () => new lrScheduler.LinearLR(opt(), { startFactor: 0 }), /Starting multiplicative factor/, 'startFactor 0');
  throwsTorch(tt, () => new lrScheduler.LinearLR(opt(), { endFactor: 1.5 }), /Ending multiplicative factor/, 'endFactor > 1');
  throwsTorch(tt, () => new lrScheduler.OneCycleLR(opt(), 0.1), /totalSteps OR \(epochs AND stepsPerEpoch\)/, 'no total');
  throwsTorch(tt, () => new lrScheduler.OneCycleLR(opt(), 0.1, { totalSteps: 10, annealStrategy: 'exp' as any }), /annealStrategy/, 'bad anneal');
  throwsTorch(tt, () => new lrScheduler.OneCycleLR(opt(), 0.1, { totalSteps: 10, pctStart: 1.5 }), /pctStart/, 'bad pct');
  throwsTorch(tt, () => new lrScheduler.OneCycleLR(new Adagrad([torch.zeros(1, { requiresGrad: true })]), 0.1, { totalSteps: 10 }), /must support momentum/, 'no momentum');
  throwsTorch(tt, () => new lrScheduler.OneCycleLR(opt(), [0.1, 0.2], { totalSteps: 10 }), /expected 1 values for maxLr/, 'maxLr count');
  throwsTorch(tt, () => new lrScheduler.ReduceLROnPlateau(opt(), { factor: 1 }), /Factor should be < 1\.0/, 'factor 1');
  throwsTorch(tt, () => new lrScheduler.ReduceLROnPlateau(opt(), { mode: 'up' as any }), /mode up is unknown/, 'bad mode');
  throwsTorch(tt, () => new lrScheduler.ReduceLROnPlateau(opt(), { minLr: [0, 0] }), /expected 1 minLrs/, 'minLr count');
});
