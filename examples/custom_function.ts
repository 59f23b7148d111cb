/**
 * Extending autograd with custom Functions (PyTorch's torch.autograd.Function):
 *
 *   - MyExp: exp that saves its *output* for backward (d/dx e^x = e^x);
 *   - LinearFunction: y = x W^T + b with a hand-written backward (PyTorch's "Extending
 *     torch.autograd" example), skipping the gradients nobody asked for (ctx.needsInputGrad);
 *   - RoundSTE: rounding with a straight-through gradient (identity backward), the trick used
 *     for quantisation-aware training.
 *
 * The first two are checked against finite differences with torch.autograd.gradcheck in
 * float64, then all three are used in a tiny regression trained with Adam.
 *
 *   node --import=tsx examples/custom_function.ts
 *
 * Environment (for quick runs): STEPS (default 300), SEED (0).
 */
import torch, { nn, optim, type Tensor } from '../src/index.js';

type Ctx = InstanceType<typeof torch.autograd.FunctionCtx>;

const STEPS = Number(process.env.STEPS ?? 300);
const LOG_EVERY = Number(process.env.LOG_EVERY ?? Math.max(1, Math.floor(STEPS / 6)));
torch.manualSeed(Number(process.env.SEED ?? 0));

// ---- the Functions -------------------------------------------------------------------------
class MyExp extends torch.autograd.Function {
  static override forward(ctx: Ctx, x: Tensor): Tensor {
    const y = x.exp();
    ctx.saveForBackward(y);          // backward needs the output, not the input
    return y;
  }
  static override backward(ctx: Ctx, gradOutput: Tensor): Tensor {
    const [y] = ctx.savedTensors;
    return gradOutput.mul(y);
  }
}

class LinearFunction extends torch.autograd.Function {
  static override forward(ctx: Ctx, input: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
    ctx.saveForBackward(input, weight);
    ctx.hasBias = bias !== null;
    const out = input.matmul(weight.t());
    return bias ? out.add(bias) : out;
  }
  static override backward(ctx: Ctx, gradOutput: Tensor): (Tensor | null)[] {
    const [input, weight] = ctx.savedTensors;
    const [needInput, needWeight, needBias] = ctx.needsInputGrad;
    const gradInput = needInput ? gradOutput.matmul(weight) : null;
    const gradWeight = needWeight ? gradOutput.t().matmul(input) : null;
    const gradBias = ctx.hasBias && needBias ? gradOutput.sum(0) : null;
    return ctx.hasBias ? [gradInput, gradWeight, gradBias] : [gradInput, gradWeight];
  }
}

class RoundSTE extends torch.autograd.Function {
  static override forward(_ctx: Ctx, x: Tensor, step: number): Tensor {
    return x.div(step).round().mul(step);
  }
  static override backward(_ctx: Ctx, gradOutput: Tensor): Tensor {
    return gradOutput;               // pretend rounding is the identity
  }
}

// ---- gradcheck in float64 -------------------------------------------------------------------
const opts = { dtype: 'float64' as const, requiresGrad: true };
const x = torch.randn([3, 4], opts);
console.log(`gradcheck MyExp: ${torch.autograd.gradcheck((t: Tensor) => MyExp.apply(t), [x], { eps: 1e-6, atol: 1e-5 })}`);

const input = torch.randn([5, 3], opts), weight = torch.randn([4, 3], opts), bias = torch.randn([4], opts);
console.log(`gradcheck LinearFunction: ${torch.autograd.gradcheck(
  (a: Tensor, w: Tensor, b: Tensor) => LinearFunction.apply(a, w, b), [input, weight, bias], { eps: 1e-6, atol: 1e-5 })}`);
console.log(`gradcheck LinearFunction (no bias): ${torch.autograd.gradcheck(
  (a: Tensor, w: Tensor) => LinearFunction.apply(a, w), [input, weight], { eps: 1e-6, atol: 1e-5 })}`);

// RoundSTE's gradient is deliberately not the true one (which is zero almost everywhere), so
// gradcheck would reject it; show the difference instead.
const r = torch.tensor([0.12, 0.49, 0.51, 0.97], { requiresGrad: true });
RoundSTE.apply(r, 0.25).sum().backward();
const r2 = torch.tensor([0.12, 0.49, 0.51, 0.97], { requiresGrad: true });
r2.div(0.25).round().mul(0.25).sum().backward();
console.log(`round to 0.25: ${RoundSTE.apply(r.detach(), 0.25).toString()}`);
console.log(`  straight-through grad ${r.grad!.toString()}, true grad ${r2.grad!.toString()}`);

// ---- a tiny model built from them ------------------------------------------------------------
class MyLinear extends nn.Module {
  weight: nn.Parameter;
  bias: nn.Parameter;
  constructor(inFeatures: number, outFeatures: number) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = new nn.Parameter(torch.empty(outFeatures, inFeatures).uniform_(-bound, bound));
    this.bias = new nn.Parameter(torch.empty(outFeatures).uniform_(-bound, bound));
  }
  override forward(x: Tensor): Tensor { return LinearFunction.apply(x, this.weight, this.bias); }
}

/** y = exp(-x^2) (a Gaussian bump), learned by an MLP whose hidden activations are
 *  fake-quantised to steps of 1/16 and whose output is passed through MyExp (it predicts the
 *  log of y). */
class BumpNet extends nn.Module {
  fc1 = new MyLinear(1, 32);
  fc2 = new MyLinear(32, 1);
  override forward(x: Tensor): Tensor {
    const h = RoundSTE.apply(this.fc1.forward(x).tanh(), 1 / 16);
    return MyExp.apply(this.fc2.forward(h));
  }
}

const model = new BumpNet();
const optimizer = new optim.Adam(model.parameters(), { lr: 0.01 });
const lossFn = new nn.MSELoss();
const xs = torch.linspace(-2, 2, 128).view(-1, 1);
const ys = xs.square().neg().exp();

model.train();
for (let step = 1; step <= STEPS; step++) {
  const loss = lossFn.forward(model.forward(xs), ys);
  optimizer.zeroGrad();
  loss.backward();
  optimizer.step();
  if (step === 1 || step % LOG_EVERY === 0 || step === STEPS) console.log(`step ${String(step).padStart(4)}: loss ${loss.item().toFixed(6)}`);
}

model.eval();
torch.noGrad(() => {
  const probe = torch.tensor([[-1.5], [0], [0.5], [1]]);
  const pred = model.forward(probe).view(-1).tolist() as number[];
  const truth = probe.square().neg().exp().view(-1).tolist() as number[];
  console.log('x      exp(-x^2)  model');
  (probe.view(-1).tolist() as number[]).forEach((v, i) =>
    console.log(`${v.toFixed(2).padStart(5)}  ${truth[i].toFixed(4).padStart(9)}  ${pred[i].toFixed(4)}`));
});
