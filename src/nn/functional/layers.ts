/**
 * nn.functional (layers part): tensors positional, everything else in an options object.
 *
 *   F.conv2d(x, w, b, { stride: 2, padding: 1 });
 *   F.maxPool2d(x, 2);
 *   F.dropout(x, 0.1, model.training);
 */
import type { Tensor } from '../../tensor.js';
import * as ops from '../../ops/index.js';
import type { DType } from '../../dtype.js';
import { TorchError } from '../../errors.js';
import * as impl from './impl.js';
import type {
  IntOrTuple, ConvOptions, ConvTransposeOptions, MaxPoolOptions, AvgPoolOptions, BatchNormOptions, EmbeddingOptions, PadMode,
} from './impl.js';

export type { IntOrTuple, ConvOptions, ConvTransposeOptions, MaxPoolOptions, AvgPoolOptions, BatchNormOptions, EmbeddingOptions, PadMode };

/** y = input @ weight^T + bias. */
export function linear(input: Tensor, weight: Tensor, bias?: Tensor | null): Tensor { return impl.linear('linear', input, weight, bias); }
/** y = x1^T A x2 + bias with A = weight [out, in1, in2]. */
export function bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias?: Tensor | null): Tensor { return impl.bilinear('bilinear', input1, input2, weight, bias); }

/** 1-D convolution: input [N, C, L] (or [C, L]), weight [Cout, C/groups, k]. */
export function conv1d(input: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvOptions = {}): Tensor { return impl.conv1d('conv1d', input, weight, bias, opts); }
/** 2-D convolution: input [N, C, H, W] (or [C, H, W]), weight [Cout, C/groups, kh, kw]; padding may be 'same' or 'valid'. */
export function conv2d(input: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvOptions = {}): Tensor { return impl.conv2d('conv2d', input, weight, bias, opts); }
/** Transposed 2-D convolution: weight [Cin, Cout/groups, kh, kw]. */
export function convTranspose2d(input: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvTransposeOptions = {}): Tensor {
  return impl.convTranspose2d('convTranspose2d', input, weight, bias, opts);
}

/** 1-D max pooling; `{ returnIndices: true }` gives [values, indices]. */
export function maxPool1d(input: Tensor, kernelSize: IntOrTuple, opts?: MaxPoolOptions & { returnIndices?: false }): Tensor;
export function maxPool1d(input: Tensor, kernelSize: IntOrTuple, opts: MaxPoolOptions & { returnIndices: true }): [Tensor, Tensor];
export function maxPool1d(input: Tensor, kernelSize: IntOrTuple, opts: MaxPoolOptions = {}): Tensor | [Tensor, Tensor] { return impl.maxPool1d('maxPool1d', input, kernelSize, opts); }
/** 2-D max pooling (stride defaults to kernelSize); `{ returnIndices: true }` gives [values, indices] (flat h * W + w). */
export function maxPool2d(input: Tensor, kernelSize: IntOrTuple, opts?: MaxPoolOptions & { returnIndices?: false }): Tensor;
export function maxPool2d(input: Tensor, kernelSize: IntOrTuple, opts: MaxPoolOptions & { returnIndices: true }): [Tensor, Tensor];
export function maxPool2d(input: Tensor, kernelSize: IntOrTuple, opts: MaxPoolOptions = {}): Tensor | [Tensor, Tensor] { return impl.maxPool2d('maxPool2d', input, kernelSize, opts); }
/** 2-D average pooling (countIncludePad defaults to true, as PyTorch). */
export function avgPool2d(input: Tensor, kernelSize: IntOrTuple, opts: AvgPoolOptions = {}): Tensor { return impl.avgPool2d('avgPool2d', input, kernelSize, opts); }
/** Adaptive 2-D average pooling to outputSize (an int, or [h, w] where null keeps the input size). */
export function adaptiveAvgPool2d(input: Tensor, outputSize: number | readonly (number | null)[]): Tensor { return impl.adaptiveAvgPool2d('adaptiveAvgPool2d', input, outputSize); }

/** Batch normalization; `{ training: true }` normalizes with batch statistics and updates the running ones in place. */
export function batchNorm(input: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, weight?: Tensor | null, bias?: Tensor | null, opts: BatchNormOptions = {}): Tensor {
  return impl.batchNorm('batchNorm', input, runningMean, runningVar, weight, bias, opts);
}
/** Layer normalization over the trailing normalizedShape dims. */
export function layerNorm(input: Tensor, normalizedShape: IntOrTuple, weight?: Tensor | null, bias?: Tensor | null, opts: { eps?: number } = {}): Tensor {
  return impl.layerNorm('layerNorm', input, normalizedShape, weight, bias, opts);
}
/** Group normalization of [N, C, *] with C divisible by numGroups. */
export function groupNorm(input: Tensor, numGroups: number, weight?: Tensor | null, bias?: Tensor | null, opts: { eps?: number } = {}): Tensor {
  return impl.groupNorm('groupNorm', input, numGroups, weight, bias, opts);
}

/** Randomly zeroes elements with probability p (default 0.5) when training (default true), scaling the rest by 1/(1-p). */
export function dropout(input: Tensor, p = 0.5, training = true): Tensor { return impl.dropout('dropout', input, p, training); }
/** Looks up rows of weight at integer indices; paddingIdx rows get no gradient. */
export function embedding(input: Tensor, weight: Tensor, opts: EmbeddingOptions = {}): Tensor { return impl.embedding('embedding', input, weight, opts); }

export function relu(input: Tensor): Tensor { return ops.relu(impl.checkTensor('relu', input)); }
export function leakyRelu(input: Tensor, negativeSlope = 0.01): Tensor { return impl.leakyRelu('leakyRelu', input, negativeSlope); }
export function gelu(input: Tensor, opts: { approximate?: 'none' | 'tanh' } = {}): Tensor { return ops.gelu(impl.checkTensor('gelu', input), opts); }
export function silu(input: Tensor): Tensor { return ops.silu(impl.checkTensor('silu', input)); }
export function softplus(input: Tensor, opts: { beta?: number; threshold?: number } = {}): Tensor { return ops.softplus(impl.checkTensor('softplus', input), opts); }
export function tanh(input: Tensor): Tensor { return ops.tanh(impl.checkTensor('tanh', input)); }
export function sigmoid(input: Tensor): Tensor { return ops.sigmoid(impl.checkTensor('sigmoid', input)); }
/** softmax along dim (PyTorch's implicit dim when omitted: 0 for 0/1/3-D input, else 1). */
export function softmax(input: Tensor, dim?: number | null, opts: { dtype?: DType } = {}): Tensor {
  impl.checkTensor('softmax', input);
  return ops.softmax(input, dim ?? impl.implicitSoftmaxDim(input.ndim), opts);
}
export function logSoftmax(input: Tensor, dim?: number | null, opts: { dtype?: DType } = {}): Tensor {
  impl.checkTensor('logSoftmax', input);
  return ops.logSoftmax(input, dim ?? impl.implicitSoftmaxDim(input.ndim), opts);
}

/**
 * Pads trailing dims: pad = [left, right] for the last dim, then [top, bottom] for the one
 * before, ... Modes 'constant' (default, value 0; negative pads crop), 'reflect', 'replicate',
 * 'circular'. Accepts `pad(x, p, 'reflect')` or `pad(x, p, { mode, value })`.
 */
export function pad(input: Tensor, padding: readonly number[], modeOrOpts: PadMode | { mode?: PadMode; value?: number } = {}, value?: number): Tensor {
  const o = typeof modeOrOpts === 'string' ? { mode: modeOrOpts, value } : modeOrOpts ?? {};
  if (typeof o !== 'object') throw new TorchError('pad', `expected a mode string or { mode, value }, got ${String(modeOrOpts)}`);
  return impl.pad('pad', input, padding, o.mode ?? 'constant', o.value ?? 0);
}
/** One-hot int64 encoding with numClasses classes (-1: max + 1). */
export function oneHot(input: Tensor, numClasses = -1): Tensor { return impl.oneHot('oneHot', input, numClasses); }
