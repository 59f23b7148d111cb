/** The backward engine: topological traversal, gradient accumulation, un-broadcasting. */
import type { Tensor } from '../tensor.js';
import { Node } from './node.js';
import { AutogradError, ShapeError, fmtShape } from '../errors.js';
import { isGradEnabled, setGradEnabled } from './grad_mode.js';
import { add, sumToShape } from '../ops/index.js';

export interface EngineOptions {
  retainGraph: boolean;
  createGraph: boolean;
  /** autograd.grad: capture the gradients of these tensors instead of accumulating into .grad */
  capture?: readonly Tensor[];
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Sums a gradient down to its input's shape (broadcast undo) and casts it to the input's dtype. */
function fitGrad(g: Tensor, shape: readonly number[], dtype: Tensor['dtype'], where: string): Tensor {
  let r = g;
  if (!sameShape(r.shape, shape)) {
    if (r.ndim < shape.length) throw new ShapeError('backward', `${where} returned a gradient of shape ${fmtShape(r.shape)} for an input of shape ${fmtShape(shape)}`);
    r = sumToShape(r, shape);
  }
  if (r.dtype !== dtype) r = r.to(dtype);
  return r;
}

function accumulate(prev: Tensor | undefined | null, g: Tensor): Tensor {
  return prev ? add(prev, g) : g;
}

function runHooks(hooks: ((g: Tensor) => Tensor | void)[], g: Tensor): Tensor {
  for (const h of hooks) {
    const r = h(g);
    if (r !== undefined && r !== null) g = r as Tensor;
  }
  return g;
}

/**
 * Runs backward from roots with the given output gradients. Returns captured gradients
 * (aligned with opts.capture) when capturing, else accumulates into leaves' .grad.
 */
export function runBackward(roots: readonly Tensor[], rootGrads: readonly Tensor[], opts: EngineOptions): (Tensor | null)[] {
  const capture = opts.capture;
  const captured = new Map<Tensor | Node, Tensor>();
  const captureNodes = new Set<Node>();
  const captureLeaves = new Set<Tensor>();
  if (capture) for (const t of capture) (t.gradFn ? captureNodes.add(t.gradFn) : captureLeaves.add(t));

  // 1. dependency counts over the graph reachable from the roots
  const deps = new Map<Node, number>();
  const stack: Node[] = [];
  for (const r of roots) if (r.gradFn && !deps.has(r.gradFn)) { deps.set(r.gradFn, 0); stack.push(r.gradFn); }
  while (stack.length) {
    const n = stack.pop()!;
    for (const e of n.next) {
      if (!e || !e.node) continue;
      const c = deps.get(e.node);
      if (c === undefined) { deps.set(e.node, 1); stack.push(e.node); } else deps.set(e.node, c + 1);
    }
  }

  const prevMode = isGradEnabled();
  setGradEnabled(opts.createGraph);
  try {
    const grads = new Map<Node, Tensor>();
    // storages already handed out (the caller's output gradients, earlier leaves' .grad): a leaf
    // whose gradient shares one gets its own copy, so in-place edits of one .grad (clipping,
    // weight decay) never change another tensor
    const handedOut = new Set<unknown>(rootGrads.map((g) => g._storage));
    const leafGrad = (leaf: Tensor, g: Tensor) => {
      g = runHooks(leaf._hooks, g);
      if (capture) {
        if (captureLeaves.has(leaf)) captured.set(leaf, accumulate(captured.get(leaf), g));
        return;
      }
      if (!opts.createGraph) g = g.detach();
      if (leaf.grad) {
        leaf.grad = opts.createGraph ? add(leaf.grad, g) : add(leaf.grad.detach(), g);
      } else {
        if (handedOut.has(g._storage) || !g.isContiguous() || g._offset !== 0) g = g.clone();
        leaf.grad = g;
      }
      handedOut.add(leaf.grad._storage);
    };
    for (let i = 0; i < roots.length; i++) {
      const r = roots[i];
      const g = fitGrad(rootGrads[i], r.shape, r.dtype, 'backward');
      if (r.gradFn) grads.set(r.gradFn, accumulate(grads.get(r.gradFn), g));
      else if (r.requiresGrad) leafGrad(r, g);
    }
    const ready: Node[] = [];
    for (const r of roots) if (r.gradFn && deps.get(r.gradFn) === 0 && !ready.includes(r.gradFn)) ready.push(r.gradFn);
    while (ready.length) {
      const node = ready.pop()!;
      let g = grads.get(node);
      grads.delete(node);
      if (!g) continue;
      g = runHooks(node.preHooks, g);
      if (node.retained && !capture) node.retained.grad = node.retained.grad ? add(node.retained.grad, g.detach()) : (opts.createGraph ? g : g.detach());
      if (captureNodes.has(node)) captured.set(node, accumulate(captured.get(node), g));
      const inGrads = node.apply(g);
      if (!opts.retainGraph) node.release();
      for (let i = 0; i < node.next.length; i++) {
        const e = node.next[i];
        if (!e) continue;
        const gi = inGrads[i];
        if (gi) {
          const fitted = fitGrad(gi, node.inputShapes[i], node.inputDtypes[i], node.displayName);
          if (e.leaf) leafGrad(e.leaf, fitted);
          else grads.set(e.node, accumulate(grads.get(e.node), fitted));
        }
        if (e.node) {
          const c = deps.get(e.node)! - 1;
          deps.set(e.node, c);
          if (c === 0) ready.push(e.node);
        }
      }
    }
  } finally {
    setGradEnabled(prevMode);
  }
  if (!capture) return [];
  return capture.map((t) => captured.get(t.gradFn ?? t) ?? null);
}

export function checkBackwardRoot(t: Tensor, gradient: Tensor | undefined): void {
  if (!t.requiresGrad)
    throw new AutogradError('backward', `element 0 of tensors does not require grad and does not have a gradFn; call requiresGrad_() on the inputs (or create them with { requiresGrad: true }) before computing the output`);
  if (!gradient && t.numel() !== 1)
    throw new AutogradError('backward', `grad can be implicitly created only for scalar outputs, but the output has shape ${fmtShape(t.shape)}; pass a gradient of that shape, e.g. y.backward(torch.onesLike(y))`);
  if (gradient && !sameShape(gradient.shape, t.shape))
    throw new ShapeError('backward', `the gradient has shape ${fmtShape(gradient.shape)} but the output has shape ${fmtShape(t.shape)}; they must match`);
}

export { Node };
