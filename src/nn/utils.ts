/**
 * nn.utils: gradient clipping and flattening parameters to a vector.
 *
 *   loss.backward();
 *   nn.utils.clipGradNorm_(model.parameters(), 1.0);
 *   optimizer.step();
 */
import { Tensor } from '../tensor.js';
import * as ops from '../ops/index.js';
import { noGrad } from '../autograd/grad_mode.js';
import { TorchError, ShapeError, fmtShape } from '../errors.js';

function paramList(op: string, parameters: Iterable<Tensor> | Tensor): Tensor[] {
  if (parameters instanceof Tensor) return [parameters];
  if (!parameters || typeof (parameters as Iterable<Tensor>)[Symbol.iterator] !== 'function')
    throw new TorchError(op, 'expected a Tensor or an iterable of Tensors (e.g. model.parameters())');
  const list = [...parameters];
  for (const p of list) if (!(p instanceof Tensor)) throw new TorchError(op, `expected Tensors, got ${typeof p}`);
  return list;
}

/**
 * Scales all gradients together so that their joint normType-norm is at most maxNorm.
 * Returns the total norm before clipping (a 0-d tensor), as PyTorch.
 */
export function clipGradNorm_(parameters: Iterable<Tensor> | Tensor, maxNorm: number, normType: number = 2,
  opts: { errorIfNonfinite?: boolean } = {}): Tensor {
  const grads = paramList('clipGradNorm_', parameters).map((p) => p.grad).filter((g): g is Tensor => g !== null);
  if (grads.length === 0) return ops.tensor(0);
  return noGrad(() => {
    const device = grads[0].device;
    const norms = grads.map((g) => (normType === Infinity ? g.abs().amax() : g.norm(normType)).to({ device, dtype: 'float32' }));
    const stacked = ops.stack(norms);
    const total = normType === Infinity ? stacked.amax() : stacked.norm(normType);
    if (opts.errorIfNonfinite && !Number.isFinite(total.item()))
      throw new TorchError('clipGradNorm_', `the total norm of order ${normType} for gradients from \`parameters\` is non-finite, so it cannot be clipped. To disable this error and scale the gradients by the non-finite norm anyway, pass { errorIfNonfinite: false }`);
    const coef = ops.clamp(ops.div(maxNorm, ops.add(total, 1e-6)), null, 1);
    for (const g of grads) g.mul_(coef.to(g.dtype));
    return total;
  });
}

/** Clamps every gradient element into [-clipValue, clipValue] in place. */
export function clipGradValue_(parameters: Iterable<Tensor> | Tensor, clipValue: number): void {
  const v = Math.abs(clipValue);
  noGrad(() => {
    for (const p of paramList('clipGradValue_', parameters)) if (p.grad) p.grad.clamp_(-v, v);
  });
}

/** All parameters flattened and concatenated into one 1-D tensor. */
export function parametersToVector(parameters: Iterable<Tensor>): Tensor {
  const list = paramList('parametersToVector', parameters);
  if (list.length === 0) throw new TorchError('parametersToVector', 'expected at least one parameter');
  return ops.cat(list.map((p) => p.reshape(-1)));
}

/** Copies consecutive slices of vec into the parameters (the inverse of parametersToVector). */
export function vectorToParameters(vec: Tensor, parameters: Iterable<Tensor>): void {
  if (!(vec instanceof Tensor) || vec.ndim !== 1) throw new ShapeError('vectorToParameters', `expected a 1-D vector, got ${vec instanceof Tensor ? fmtShape(vec.shape) : typeof vec}`);
  const list = paramList('vectorToParameters', parameters);
  const total = list.reduce((a, p) => a + p.numel(), 0);
  if (total !== vec.shape[0]) throw new ShapeError('vectorToParameters', `the vector has ${vec.shape[0]} elements but the parameters hold ${total}`);
  noGrad(() => {
    let off = 0;
    for (const p of list) {
      const n = p.numel();
      p.copy_(vec.narrow(0, off, n).view(...p.shape));
      off += n;
    }
  });
}
