/** Every op, re-exported in one place (the Tensor methods and the public namespace use this). */
import { Tensor } from '../tensor.js';
export { normDim } from '../layout.js';
export * from './elementwise.js';
export * from './reduce.js';
export * from './shape.js';
export * from './linalg.js';
export * from './indexing.js';
export * from './inplace.js';
export * from './creation.js';
export * from './data.js';
export { backward } from '../autograd/api.js';

/** A tensor sharing x's storage (and version counter) with no autograd history. */
export function detach(x: Tensor): Tensor {
  return new Tensor(x._storage, x.shape, x._strides, x._offset);
}
