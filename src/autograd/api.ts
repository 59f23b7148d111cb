/** The public autograd API: backward, grad, gradcheck, Function. */
import { Tensor } from '../tensor.js';
import { runBackward, checkBackwardRoot } from './engine.js';
import { Node } from './node.js';
import { isGradEnabled, noGrad } from './grad_mode.js';
import { AutogradError, TorchError, fmtShape } from '../errors.js';
import { onesLike, fromBuffer } from '../ops/creation.js';
import { isFloating } from '../dtype.js';

export function backward(t: Tensor, gradient: Tensor | undefined, options: { retainGraph?: boolean; createGraph?: boolean; inputs?: Tensor[] } = {}): void {
  checkBackwardRoot(t, gradient);
  const g = gradient ?? onesLike(t);
  const createGraph = options.createGraph ?? false;
  if (options.inputs) {
    const grads = runBackward([t], [g], { retainGraph: options.retainGraph ?? createGraph, createGraph, capture: options.inputs });
    options.inputs.forEach((x, i) => { const gi = grads[i]; if (gi) x.grad = x.grad ? x.grad.add(gi) : (createGraph ? gi : gi.detach()); });
    return;
  }
  runBackward([t], [g], { retainGraph: options.retainGraph ?? createGraph, createGraph });
}

export interface GradOptions { gradOutputs?: (Tensor | null)[] | Tensor; retainGraph?: boolean; createGraph?: boolean; allowUnused?: boolean }

/** Gradients of outputs with respect to inputs (torch.autograd.grad); .grad fields are not touched. */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor | Tensor[], opts: GradOptions = {}): (Tensor | null)[] {
  const outs = Array.isArray(outputs) ? outputs : [outputs];
  const ins = Array.isArray(inputs) ? inputs : [inputs];
  const gos = opts.gradOutputs === undefined ? [] : Array.isArray(opts.gradOutputs) ? opts.gradOutputs : [opts.gradOutputs];
  for (const x of ins) if (!x.requiresGrad) throw new AutogradError('grad', `one of the differentiated tensors (shape ${fmtShape(x.shape)}) does not require grad`);
  const rootGrads = outs.map((o, i) => {
    const g = gos[i] ?? undefined;
    checkBackwardRoot(o, g ?? undefined);
    return g ?? onesLike(o);
  });
  const createGraph = opts.createGraph ?? false;
  const res = runBackward(outs, rootGrads, { retainGraph: opts.retainGraph ?? createGraph, createGraph, capture: ins });
  if (!opts.allowUnused) {
    res.forEach((r, i) => {
      if (r === null) throw new AutogradError('grad', `one of the differentiated tensors (input ${i}, shape ${fmtShape(ins[i].shape)}) appears to not have been used in the graph; pass { allowUnused: true } if this is intended`);
    });
  }
  return res;
}

/**
 * Compares analytical gradients with central finite differences (full Jacobian). Returns
 * true, or throws with the worst mismatch. Use float64 inputs.
 */
export function gradcheck(fn: (...xs: Tensor[]) => Tensor | Tensor[], inputs: Tensor[], opts: { eps?: number; atol?: number; rtol?: number } = {}): boolean {
  const eps = opts.eps ?? 1e-6, atol = opts.atol ?? 1e-5, rtol = opts.rtol ?? 1e-3;
  const diffIdx = inputs.map((x, i) => (x.requiresGrad ? i : -1)).filter((i) => i >= 0);
  if (diffIdx.length === 0) throw new AutogradError('gradcheck', 'no input requires grad');
  for (const i of diffIdx) if (inputs[i].dtype !== 'float64') console.warn(`gradcheck: input ${i} is ${inputs[i].dtype}, not float64; the check may fail from rounding`);
  const flatOut = (r: Tensor | Tensor[]): Tensor[] => (Array.isArray(r) ? r : [r]);
  const outs0 = flatOut(fn(...inputs));
  const outVals = (): Float64Array[] => noGrad(() => flatOut(fn(...inputs)).map((o) => Float64Array.from(o.detach().to('float64').dataSync())));
  let worst = { err: -1, msg: '' };
  for (let oi = 0; oi < outs0.length; oi++) {
    // a fresh graph per output: the finite differences below bump the inputs' versions
    const out = oi === 0 ? outs0[0] : flatOut(fn(...inputs))[oi];
    if (!isFloating(out.dtype)) continue;
    const m = out.numel();
    // analytical: one backward per output element (rows of the Jacobian)
    const analytic = diffIdx.map((i) => new Float64Array(m * inputs[i].numel()));
    for (let r = 0; r < m; r++) {
      const go = noGrad(() => { const z = new Float64Array(m); z[r] = 1; return fromBuffer(z, [m], { device: out.device }).to(out.dtype); });
      const gs = out.requiresGrad ? grad([out], diffIdx.map((i) => inputs[i]), { gradOutputs: [go.view([...out.shape])], retainGraph: true, allowUnused: true }) : diffIdx.map(() => null);
      gs.forEach((g, k) => {
        if (!g) return;
        const gv = g.to('float64').dataSync();
        for (let c = 0; c < gv.length; c++) analytic[k][r * gv.length + c] = gv[c];
      });
    }
    // numerical: perturb each input element
    diffIdx.forEach((i, k) => {
      const x = inputs[i];
      const n = x.numel();
      for (let c = 0; c < n; c++) {
        const orig = noGrad(() => x.contiguous().view([-1]).index(c).item());
        const setv = (v: number) => noGrad(() => { x.detach().view([-1]).index(c).fill_(v); });
        if (!x.isContiguous()) throw new TorchError('gradcheck', 'inputs must be contiguous');
        setv(orig + eps); const plus = outVals()[oi];
        setv(orig - eps); const minus = outVals()[oi];
        setv(orig);
        for (let r = 0; r < m; r++) {
          const num = (plus[r] - minus[r]) / (2 * eps);
          const ana = analytic[k][r * n + c];
          const err = Math.abs(num - ana);
          const tol = atol + rtol * Math.abs(num);
          if (!(err <= tol) && err - tol > worst.err) worst = { err: err - tol, msg: `output ${oi} element ${r}, input ${i} element ${c}: numerical ${num}, analytical ${ana}` };
        }
      }
    });
  }
  if (worst.err >= 0) throw new AutogradError('gradcheck', `Jacobian mismatch: ${worst.msg} (atol ${atol}, rtol ${rtol})`);
  return true;
}
/** Context given to a custom Function's forward and backward. */
export class FunctionCtx {
  savedTensors: Tensor[] = [];
  needsInputGrad: boolean[] = [];
  [key: string]: unknown;
  saveForBackward(...ts: Tensor[]): void { this.savedTensors = ts; }
}

/**
 * User-defined ops: subclass with static forward(ctx, ...args) and backward(ctx, grad), then
 * call MyFn.apply(...args). Tensor arguments that require grad get gradients from backward's
 * results, in order of the tensor arguments.
 */
export class Function {
  static forward(_ctx: FunctionCtx, ..._args: any[]): Tensor { throw new TorchError('Function', 'subclasses must implement static forward(ctx, ...args)'); }
  static backward(_ctx: FunctionCtx, ..._grads: Tensor[]): (Tensor | null | undefined)[] | Tensor | null { throw new TorchError('Function', 'subclasses must implement static backward(ctx, grad)'); }
  static apply(this: typeof Function, ...args: any[]): Tensor {
    const ctx = new FunctionCtx();
    const tensorArgs = args.filter((a): a is Tensor => a instanceof Tensor);
    ctx.needsInputGrad = tensorArgs.map((t) => t.requiresGrad);
    const record = isGradEnabled() && tensorArgs.some((t) => t.requiresGrad);
    const out = noGrad(() => this.forward(ctx, ...args));
    if (!(out instanceof Tensor)) throw new TorchError(this.name || 'Function', 'forward must return a Tensor');
    if (!record) return out;
    const result = out.gradFn || out._base || tensorArgs.includes(out) ? out.detach() : out;
    const cls = this;
    const node = new Node(cls.name || 'Custom', tensorArgs, (g) => {
      const r = cls.backward(ctx, g);
      const list = Array.isArray(r) ? r : [r];
      if (list.length < tensorArgs.length && list.length !== 1)
        throw new AutogradError(cls.name, `backward returned ${list.length} gradients but forward received ${tensorArgs.length} tensor inputs`);
      return list;
    }, ctx.savedTensors);
    result.gradFn = node;
    result._requiresGrad = true;
    return result;
  }
}
