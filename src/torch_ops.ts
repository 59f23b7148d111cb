/**
 * The ops torch has at its top level (`torch.add`, `torch.cat`, ...). Named once, here:
 * index.ts re-exports this module both as named exports and, spread, in the default `torch`
 * namespace, so the two can never list different ops.
 */
export {
  tensor, fromBuffer, zeros, ones, full, empty, zerosLike, onesLike, fullLike, emptyLike, randLike, randnLike,
  arange, linspace, eye, rand, randn, randint, randperm,
  add, sub, mul, div, pow, neg, abs, sign, exp, log, log1p, expm1, sqrt, rsqrt, sin, cos, tanh, sigmoid, relu, gelu,
  silu, softplus, erf, clamp, maximum, minimum, floor, ceil, round, trunc, reciprocal, square, remainder, fmod, atan2,
  eq, ne, lt, le, gt, ge, logicalNot, logicalAnd, logicalOr, logicalXor, isnan, isfinite,
  matmul, mm, bmm, dot, outer, where, maskedFill, lerp, addcmul, addcdiv,
  sum, mean, prod, std, norm, logsumexp, amax, amin, argmax, argmin, all, any, cumsum, softmax, logSoftmax, sort, topk,
  max, min,
  reshape, view, flatten, unflatten, squeeze, unsqueeze, transpose, t, permute, expand, narrow, select, unfold, split,
  chunk, unbind, repeat, flip, roll, tril, triu, cat, stack,
  gather, scatter, scatterAdd, indexSelect, maskedSelect, nonzero, clone, detach,
  /** torch.var (named `variance` here since `var` is reserved; the default namespace has both). */
  variance,
  cat as concat,
} from './ops/index.js';
