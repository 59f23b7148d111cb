/**
 * Pooling layers: MaxPool1d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d.
 *
 *   const pool = new nn.MaxPool2d(2);            // stride defaults to the kernel size
 *   const pool2 = new nn.MaxPool2d(3, { stride: 2, padding: 1 });
 */
import type { Tensor } from '../tensor.js';
import { TorchError } from '../errors.js';
import { Module } from './module.js';
import * as impl from './functional/impl.js';
import { pyBool, pyIntOrTuple } from './repr.js';

type Size = number | readonly number[];

export interface MaxPoolLayerOptions { stride?: Size | null; padding?: Size; dilation?: Size; ceilMode?: boolean; returnIndices?: boolean }
export interface AvgPoolLayerOptions { stride?: Size | null; padding?: Size; ceilMode?: boolean; countIncludePad?: boolean; divisorOverride?: number | null }

function copySize(v: Size): number | number[] { return typeof v === 'number' ? v : [...v]; }
/** `new MaxPool2d(2, 2)` (stride positional) or `new MaxPool2d(2, { stride: 2 })`. */
function optsOf<T extends { stride?: Size | null }>(layer: string, strideOrOpts: Size | null | T | undefined): T {
  if (strideOrOpts === undefined || strideOrOpts === null) return {} as T;
  if (typeof strideOrOpts === 'number' || Array.isArray(strideOrOpts)) return { stride: strideOrOpts } as T;
  if (typeof strideOrOpts !== 'object') throw new TorchError(layer, `expected a stride or an options object, got ${String(strideOrOpts)}`);
  return strideOrOpts as T;
}

/** Max pooling (PyTorch's _MaxPoolNd); with returnIndices, forward gives [values, indices]. */
abstract class MaxPoolNd extends Module {
  kernelSize: number | number[];
  stride: number | number[];
  padding: number | number[];
  dilation: number | number[];
  ceilMode: boolean;
  returnIndices: boolean;
  constructor(layer: string, kernelSize: Size, strideOrOpts?: Size | null | MaxPoolLayerOptions) {
    super();
    const o = optsOf<MaxPoolLayerOptions>(layer, strideOrOpts);
    this.kernelSize = copySize(kernelSize);
    this.stride = o.stride === undefined || o.stride === null ? copySize(kernelSize) : copySize(o.stride);
    this.padding = copySize(o.padding ?? 0);
    this.dilation = copySize(o.dilation ?? 1);
    this.ceilMode = !!o.ceilMode;
    this.returnIndices = !!o.returnIndices;
  }
  override extraRepr(): string {
    return `kernel_size=${pyIntOrTuple(this.kernelSize)}, stride=${pyIntOrTuple(this.stride)}, padding=${pyIntOrTuple(this.padding)}, dilation=${pyIntOrTuple(this.dilation)}, ceil_mode=${pyBool(this.ceilMode)}`;
  }
  protected options(): impl.MaxPoolOptions {
    return { stride: this.stride, padding: this.padding, dilation: this.dilation, ceilMode: this.ceilMode, returnIndices: this.returnIndices };
  }
}

export class MaxPool1d extends MaxPoolNd {
  constructor(kernelSize: Size, strideOrOpts?: Size | null | MaxPoolLayerOptions) { super('MaxPool1d', kernelSize, strideOrOpts); }
  override forward(input: Tensor): any { return impl.maxPool1d(this._getName(), input, this.kernelSize, this.options()); }
}

export class MaxPool2d extends MaxPoolNd {
  constructor(kernelSize: Size, strideOrOpts?: Size | null | MaxPoolLayerOptions) { super('MaxPool2d', kernelSize, strideOrOpts); }
  override forward(input: Tensor): any { return impl.maxPool2d(this._getName(), input, this.kernelSize, this.options()); }
}

export class AvgPool2d extends Module {
  kernelSize: number | number[];
  stride: number | number[];
  padding: number | number[];
  ceilMode: boolean;
  countIncludePad: boolean;
  divisorOverride: number | null;
  constructor(kernelSize: Size, strideOrOpts?: Size | null | AvgPoolLayerOptions) {
    super();
    const o = optsOf<AvgPoolLayerOptions>('AvgPool2d', strideOrOpts);
    this.kernelSize = copySize(kernelSize);
    this.stride = o.stride === undefined || o.stride === null ? copySize(kernelSize) : copySize(o.stride);
    this.padding = copySize(o.padding ?? 0);
    this.ceilMode = !!o.ceilMode;
    this.countIncludePad = o.countIncludePad ?? true;
    this.divisorOverride = o.divisorOverride ?? null;
  }
  override forward(input: Tensor): Tensor {
    return impl.avgPool2d(this._getName(), input, this.kernelSize, {
      stride: this.stride, padding: this.padding, ceilMode: this.ceilMode, countIncludePad: this.countIncludePad, divisorOverride: this.divisorOverride,
    });
  }
  override extraRepr(): string { return `kernel_size=${pyIntOrTuple(this.kernelSize)}, stride=${pyIntOrTuple(this.stride)}, padding=${pyIntOrTuple(this.padding)}`; }
}

/** Average pooling to a fixed output size (an int, or [h, w] where null keeps the input's size). */
export class AdaptiveAvgPool2d extends Module {
  outputSize: number | (number | null)[];
  constructor(outputSize: number | readonly (number | null)[]) {
    super();
    this.outputSize = typeof outputSize === 'number' ? outputSize : [...outputSize];
  }
  override forward(input: Tensor): Tensor { return impl.adaptiveAvgPool2d(this._getName(), input, this.outputSize); }
  override extraRepr(): string { return `output_size=${pyIntOrTuple(this.outputSize)}`; }
}
