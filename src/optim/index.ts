/** torch.optim: optimizers and `lrScheduler` (torch.optim.lr_scheduler). */
export { Optimizer, camelToSnake, snakeToCamel } from './optimizer.js';
export type { ParamGroup, ParamGroupInput, Params, OptimizerStateDict } from './optimizer.js';
export { SGD, type SGDOptions } from './sgd.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export { RMSprop, type RMSpropOptions } from './rmsprop.js';
export { Adagrad, type AdagradOptions } from './adagrad.js';
import * as lrScheduler from './lr_scheduler.js';
export { lrScheduler };
/** PyTorch's name for the same namespace. */
export const lr_scheduler = lrScheduler;
