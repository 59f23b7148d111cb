/** Helpers the layer files share: parameter creation, argument checks, PyTorch's bias init. */
import { Tensor } from '../tensor.js';
import * as ops from '../ops/index.js';
import type { DType } from '../dtype.js';
import { TorchError } from '../errors.js';
import { Parameter } from './module.js';
import * as init from './init.js';

/** Where and in what dtype a layer creates its parameters. */
export interface FactoryOptions { device?: string; dtype?: DType }

/** An uninitialised parameter tensor (filled by the layer's resetParameters). */
export function newParam(shape: number[], f: FactoryOptions = {}): Parameter {
  return new Parameter(ops.empty(shape, { device: f.device, dtype: f.dtype }));
}

export function checkCount(layer: string, name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
    throw new TorchError(layer, `${name} must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

/** uniform(-1/sqrt(fanIn), 1/sqrt(fanIn)) for a bias, as PyTorch's layers do. */
export function initBiasFromWeight(bias: Tensor, weight: Tensor): void {
  const [fanIn] = init.calculateFanInAndFanOut(weight);
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  init.uniform_(bias, -bound, bound);
}

