/** In-place ops: an out-of-place computation written back into the tensor, with version bumps. */
import { Tensor, type TensorLike } from '../tensor.js';
import { writeInto, empty_, castRaw, operand } from './core.js';
import { isGradEnabled } from '../autograd/grad_mode.js';
import { AutogradError, ShapeError, DTypeError, TorchError, fmtShape } from '../errors.js';
import { category, toStored } from '../dtype.js';
import { expand } from './shape.js';
import { toDtype, toDevice, operandOf } from './elementwise.js';
import { fillRandom } from './random.js';
import { Node } from '../autograd/node.js';

function checkInplaceAutograd(x: Tensor, name: string, resultNeedsGrad: boolean): void {
  if (!isGradEnabled()) return;
  if (x.isLeaf && x.requiresGrad)
    throw new AutogradError(name, 'a leaf tensor that requires grad is being used in an in-place operation; wrap the update in torch.noGrad(() => ...) or use the out-of-place op');
  if (x._base && (x._base.requiresGrad || resultNeedsGrad || x.requiresGrad))
    throw new AutogradError(name, `in-place modification of a view (shape ${fmtShape(x.shape)}) is not supported while recording gradients; build the result out of place (e.g. with torch.cat / torch.stack / where) or clone() the base first`);
}

/**
 * Writes compute(x)'s result into x. compute runs out of place and records its node with x's
 * previous history as input; x then takes over that node.
 */
export function inplace<T extends Tensor>(x: T, name: string, compute: (self: Tensor) => Tensor): T {
  if (x.isDisposed) throw new TorchError(name, 'this tensor was disposed');
  let r = compute(x);
  checkInplaceAutograd(x, name, r.requiresGrad);
  // the op's backward reads x as it was (mul_, div_, clamp_, ...): run it on a copy of x, which
  // keeps x's history, since x itself is about to be overwritten (PyTorch saves original_self)
  if (r.gradFn && isGradEnabled() && r.gradFn.savesStorage(x._storage)) r = compute(x.clone());
  // an input returned as is (copy_ of a leaf) still needs a node of its own for x to take over
  if (r.requiresGrad && !r.gradFn && isGradEnabled()) r = expand(r, [...r.shape]);
  if (r.ndim > x.ndim || r.shape.some((s, i) => s !== x.shape[x.ndim - r.ndim + i] && s !== 1))
    throw new ShapeError(name, `output with shape ${fmtShape(x.shape)} doesn't match the broadcast shape ${fmtShape(r.shape)}`);
  if (category(r.dtype) > category(x.dtype))
    throw new DTypeError(name, `result type ${r.dtype} can't be cast to the desired output type ${x.dtype}; convert first, e.g. x = x.to('${r.dtype}')`);
  const src = r._storage === x._storage ? r.clone() : r;
  writeInto(x, src);
  if (isGradEnabled()) {
    if (r.requiresGrad) {
      x.gradFn = r.gradFn;
      x._requiresGrad = true;
    } else if (x.gradFn) {
      // the new value does not depend on x's history (fill_, zero_, copy_ of a constant): the
      // gradient to that history is zero, as PyTorch's FillBackward
      x.gradFn = new Node(name.replace(/_$/, ''), [], () => [], []);
    }
  }
  return x;
}

export function fill_<T extends Tensor>(x: T, value: TensorLike): T {
  if (value instanceof Tensor) {
    if (value.numel() !== 1) throw new ShapeError('fill_', `fill_ only supports a 0-dim value tensor, got shape ${fmtShape(value.shape)}`);
    const v = value;
    if (v.requiresGrad || x.requiresGrad) return inplace(x, 'fill_', () => expand(toDtype(toDevice(v.reshape([]), x.device), x.dtype), [...x.shape]));
    value = value.item();
  }
  checkInplaceAutograd(x, 'fill_', false);
  if (x.requiresGrad && isGradEnabled()) return inplace(x, 'fill_', () => expand(operandOf(value, x.dtype, x.device), [...x.shape]));
  const v = typeof value === 'boolean' ? (value ? 1 : 0) : value;
  if (x.numel() > 0) x._backend.fill(x._view, toStored(x.dtype, v));
  x._storage.version++;
  return x;
}

export function copy_<T extends Tensor>(x: T, src: TensorLike): T {
  if (!(src instanceof Tensor)) return fill_(x, src);
  if (src.device !== x.device) src = toDevice(src, x.device);
  return inplace(x, 'copy_', () => {
    const s = src as Tensor;
    // copy_ casts freely (unlike arithmetic in-place ops)
    const c = s.dtype === x.dtype ? s : toDtype(s, x.dtype);
    return c.shape.length === x.shape.length && c.shape.every((n, i) => n === x.shape[i]) ? c : expand(c, [...x.shape]);
  });
}

function randomInplace<T extends Tensor>(x: T, name: string, kind: 'uniform' | 'normal' | 'bernoulli', a: number, b: number): T {
  checkInplaceAutograd(x, name, false);
  const tmp = empty_(x._backend, x.shape, x.dtype === 'float64' ? 'float64' : 'float32');
  fillRandom(tmp, kind, a, b);
  writeInto(x, castRaw(tmp, x.dtype));
  return x;
}
export function uniform_<T extends Tensor>(x: T, low = 0, high = 1): T { return randomInplace(x, 'uniform_', 'uniform', low, high); }
export function normal_<T extends Tensor>(x: T, mean = 0, std = 1): T { return randomInplace(x, 'normal_', 'normal', mean, std); }
export function bernoulli_<T extends Tensor>(x: T, p = 0.5): T { return randomInplace(x, 'bernoulli_', 'bernoulli', p, 0); }
export { operand };
