/**
 * torch.nn: modules, layers, losses, nn.functional (also `F`), nn.init and nn.utils.
 * The lead wires `nn` into src/index.ts (`import * as nn from './nn/index.js'`).
 */
import * as layersF from './functional/layers.js';
import * as lossF from './functional/loss.js';
import { scaledDotProductAttention } from './functional/attention.js';
import * as initFns from './init.js';
import * as utilsFns from './utils.js';

export { Module, Parameter, Sequential, ModuleList, ModuleDict } from './module.js';
export type { ModuleToArg, LoadStateDictResult } from './module.js';
export {
  Linear, Bilinear, Identity, Flatten, Unflatten, Dropout, Embedding,
  ReLU, LeakyReLU, GELU, SiLU, Tanh, Sigmoid, Softmax, LogSoftmax, Softplus,
} from './layers.js';
export type { FactoryOptions, EmbeddingOptions } from './layers.js';
export { ConvNd, Conv1d, Conv2d, ConvTranspose2d } from './conv.js';
export type { ConvLayerOptions, ConvTransposeLayerOptions, PaddingMode } from './conv.js';
export { MaxPool1d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d } from './pooling.js';
export type { MaxPoolLayerOptions, AvgPoolLayerOptions } from './pooling.js';
export { BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm } from './norm.js';
export type { BatchNormLayerOptions, LayerNormOptions, GroupNormOptions } from './norm.js';

// the recurrent, attention and loss layers
export { RNNBase, RNN, LSTM, GRU, RNNCellBase, RNNCell, LSTMCell, GRUCell } from './rnn.js';
export { MultiheadAttention, TransformerEncoderLayer, TransformerEncoder } from './transformer.js';
export {
  MSELoss, L1Loss, SmoothL1Loss, HuberLoss, CrossEntropyLoss, NLLLoss, BCELoss, BCEWithLogitsLoss, KLDivLoss,
} from './loss.js';

/** nn.functional: the layer functions, the losses and scaledDotProductAttention. */
export const functional = { ...layersF, ...lossF, scaledDotProductAttention };
/** Short alias of nn.functional (torch.nn.F). */
export const F = functional;
/** nn.init: in-place initialisers. */
export const init = { ...initFns };
/** nn.utils: clipGradNorm_, clipGradValue_, parametersToVector, vectorToParameters. */
export const utils = { ...utilsFns };
