/**
 * Convolution layers: Conv1d, Conv2d, ConvTranspose2d.
 *
 *   const conv = new nn.Conv2d(1, 32, 3, { padding: 1 });
 *   const y = conv.forward(x); // [N, 32, H, W]
 */
import type { Tensor } from '../tensor.js';
import { TorchError, ShapeError, fmtShape } from '../errors.js';
import { Module, Parameter } from './module.js';
import * as impl from './functional/impl.js';
import * as init from './init.js';
import { newParam, checkCount, initBiasFromWeight, type FactoryOptions } from './layer_utils.js';
import { pyBool, pyTuple } from './repr.js';

export type PaddingMode = 'zeros' | 'reflect' | 'replicate' | 'circular';

export interface ConvLayerOptions extends FactoryOptions {
  stride?: impl.IntOrTuple;
  padding?: impl.Padding;
  dilation?: impl.IntOrTuple;
  groups?: number;
  bias?: boolean;
  paddingMode?: PaddingMode;
}

export interface ConvTransposeLayerOptions extends FactoryOptions {
  stride?: impl.IntOrTuple;
  padding?: impl.IntOrTuple;
  outputPadding?: impl.IntOrTuple;
  dilation?: impl.IntOrTuple;
  groups?: number;
  bias?: boolean;
  paddingMode?: 'zeros';
}

/** What Conv1d, Conv2d and ConvTranspose2d share (PyTorch's _ConvNd). */
export abstract class ConvNd extends Module {
  inChannels: number;
  outChannels: number;
  kernelSize: number[];
  stride: number[];
  padding: number[] | 'same' | 'valid';
  dilation: number[];
  transposed: boolean;
  outputPadding: number[];
  groups: number;
  paddingMode: PaddingMode;
  weight: Parameter;
  declare bias: Parameter | null;
  /** F.pad amounts for non-zero padding modes: [left, right] per spatial dim, last dim first. */
  protected reversedPaddingRepeatedTwice: number[];

  constructor(layer: string, nd: number, inChannels: number, outChannels: number, kernelSize: impl.IntOrTuple, transposed: boolean,
    opts: ConvLayerOptions & { outputPadding?: impl.IntOrTuple }) {
    super();
    this.inChannels = checkCount(layer, 'in_channels', inChannels);
    this.outChannels = checkCount(layer, 'out_channels', outChannels);
    const groups = opts.groups ?? 1;
    if (!Number.isInteger(groups) || groups < 1) throw new TorchError(layer, `groups must be a positive integer, got ${groups}`);
    if (inChannels % groups !== 0) throw new TorchError(layer, `in_channels (${inChannels}) must be divisible by groups (${groups})`);
    if (outChannels % groups !== 0) throw new TorchError(layer, `out_channels (${outChannels}) must be divisible by groups (${groups})`);
    this.groups = groups;
    this.kernelSize = impl.tuple(layer, 'kernel_size', kernelSize, nd, 1);
    this.stride = impl.tuple(layer, 'stride', opts.stride ?? 1, nd, 1);
    this.dilation = impl.tuple(layer, 'dilation', opts.dilation ?? 1, nd, 1);
    const padding = opts.padding ?? 0;
    if (typeof padding === 'string') {
      if (padding !== 'same' && padding !== 'valid') throw new TorchError(layer, `invalid padding string '${padding}', should be one of 'valid', 'same'`);
      if (padding === 'same' && this.stride.some((s) => s !== 1)) throw new TorchError(layer, "padding='same' is not supported for strided convolutions");
      this.padding = padding;
    } else this.padding = impl.tuple(layer, 'padding', padding, nd, 0);
    const mode = opts.paddingMode ?? 'zeros';
    if (!['zeros', 'reflect', 'replicate', 'circular'].includes(mode))
      throw new TorchError(layer, `padding_mode must be one of 'zeros', 'reflect', 'replicate' or 'circular', got '${mode}'`);
    this.paddingMode = mode;
    this.transposed = transposed;
    this.outputPadding = impl.tuple(layer, 'output_padding', opts.outputPadding ?? 0, nd, 0);
    const pads = impl.convPads(layer, this.padding, this.kernelSize, this.dilation, this.stride);
    this.reversedPaddingRepeatedTwice = [...pads].reverse().flat();
    const shape = transposed ? [inChannels, outChannels / groups, ...this.kernelSize] : [outChannels, inChannels / groups, ...this.kernelSize];
    this.weight = newParam(shape, opts);
    if (opts.bias ?? true) this.bias = newParam([outChannels], opts);
    else this.registerParameter('bias', null);
    this.resetParameters();
  }

  resetParameters(): void {
    init.kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias) initBiasFromWeight(this.bias, this.weight);
  }

  override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=${pyTuple(this.kernelSize)}, stride=${pyTuple(this.stride)}`;
    if (typeof this.padding === 'string') s += `, padding=${this.padding}`;
    else if (this.padding.some((p) => p !== 0)) s += `, padding=${pyTuple(this.padding)}`;
    if (this.dilation.some((d) => d !== 1)) s += `, dilation=${pyTuple(this.dilation)}`;
    if (this.outputPadding.some((p) => p !== 0)) s += `, output_padding=${pyTuple(this.outputPadding)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (this.bias === null) s += `, bias=${pyBool(false)}`;
    if (this.paddingMode !== 'zeros') s += `, padding_mode=${this.paddingMode}`;
    return s;
  }

  /** The input padded for non-zero padding modes (the convolution then runs with no padding). */
  protected padInput(input: Tensor): Tensor {
    return impl.pad(this._getName(), input, this.reversedPaddingRepeatedTwice, this.paddingMode as impl.PadMode);
  }
}

/** 1-D convolution over [N, C, L] (or [C, L]). */
export class Conv1d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: impl.IntOrTuple, opts: ConvLayerOptions = {}) {
    super('Conv1d', 1, inChannels, outChannels, kernelSize, false, opts);
  }
  override forward(input: Tensor): Tensor {
    const op = this._getName();
    const o = { stride: this.stride, dilation: this.dilation, groups: this.groups };
    if (this.paddingMode !== 'zeros') return impl.conv1d(op, this.padInput(impl.checkTensor(op, input)), this.weight, this.bias, { ...o, padding: 0 });
    return impl.conv1d(op, input, this.weight, this.bias, { ...o, padding: this.padding });
  }
}

/** 2-D convolution over [N, C, H, W] (or [C, H, W]). */
export class Conv2d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: impl.IntOrTuple, opts: ConvLayerOptions = {}) {
    super('Conv2d', 2, inChannels, outChannels, kernelSize, false, opts);
  }
  override forward(input: Tensor): Tensor {
    const op = this._getName();
    const o = { stride: this.stride, dilation: this.dilation, groups: this.groups };
    if (this.paddingMode !== 'zeros') return impl.conv2d(op, this.padInput(impl.checkTensor(op, input)), this.weight, this.bias, { ...o, padding: 0 });
    return impl.conv2d(op, input, this.weight, this.bias, { ...o, padding: this.padding });
  }
}

/** Transposed 2-D convolution (the gradient of Conv2d with respect to its input). */
export class ConvTranspose2d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: impl.IntOrTuple, opts: ConvTransposeLayerOptions = {}) {
    if (opts.paddingMode !== undefined && opts.paddingMode !== 'zeros') throw new TorchError('ConvTranspose2d', `only 'zeros' padding mode is supported for ConvTranspose2d, got '${opts.paddingMode}'`);
    if (typeof (opts as { padding?: unknown }).padding === 'string') throw new TorchError('ConvTranspose2d', 'padding must be an integer or a pair for ConvTranspose2d');
    super('ConvTranspose2d', 2, inChannels, outChannels, kernelSize, true, opts);
  }
  /** outputSize (the last two dims wanted, or the full shape) picks outputPadding as PyTorch does. */
  override forward(input: Tensor, outputSize?: readonly number[]): Tensor {
    const op = this._getName();
    let outputPadding = this.outputPadding;
    if (outputSize) {
      impl.checkTensor(op, input);
      const want = outputSize.slice(outputSize.length - 2);
      const pad = this.padding as number[];
      const mins = [0, 1].map((i) => (input.shape[input.ndim - 2 + i] - 1) * this.stride[i] - 2 * pad[i] + this.dilation[i] * (this.kernelSize[i] - 1) + 1);
      const maxs = mins.map((m, i) => m + this.stride[i] - 1);
      if (want.length !== 2 || want.some((w, i) => !(w >= mins[i] && w <= maxs[i])))
        throw new ShapeError(op, `requested an output size of ${fmtShape(want)}, but valid sizes range from ${fmtShape(mins)} to ${fmtShape(maxs)} (for an input of shape ${fmtShape(input.shape)})`);
      outputPadding = want.map((w, i) => w - mins[i]);
    }
    return impl.convTranspose2d(op, input, this.weight, this.bias, {
      stride: this.stride, padding: this.padding as number[], outputPadding, dilation: this.dilation, groups: this.groups,
    });
  }
}
