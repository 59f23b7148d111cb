/** Tape nodes: one node per differentiable op result, with edges to its inputs' nodes or leaves. */
import type { Tensor } from '../tensor.js';
import type { DType } from '../dtype.js';
import { AutogradError } from '../errors.js';

/** Where an input's gradient goes: the node that produced it, or a leaf that accumulates it. */
export type Edge = { node: Node; leaf: null } | { node: null; leaf: Tensor } | null;

export type BackwardFn = (grad: Tensor) => (Tensor | null | undefined)[];

/** The shared (never written) hook list of nodes without hooks; registerHook replaces it. */
export const NO_PRE_HOOKS: ((g: Tensor) => Tensor | void)[] = [];
const NO_SHAPE: readonly number[] = [];

export class Node {
  readonly name: string;
  readonly next: Edge[];
  readonly inputShapes: (readonly number[])[];
  readonly inputDtypes: DType[];
  private fn: BackwardFn | null;
  private saved: { tensor: Tensor; version: number }[];
  /** Hooks registered on the (non-leaf) tensor this node produced (NO_PRE_HOOKS, shared, until the first). */
  preHooks: ((g: Tensor) => Tensor | void)[] = NO_PRE_HOOKS;
  /** The output tensor, when it called retainGrad(). */
  retained: Tensor | null = null;

  constructor(name: string, inputs: readonly (Tensor | null)[], fn: BackwardFn, saved: Tensor[]) {
    this.name = name;
    const n = inputs.length;
    const next = new Array<Edge>(n), shapes = new Array<readonly number[]>(n), dtypes = new Array<DType>(n);
    for (let i = 0; i < n; i++) {
      const t = inputs[i];
      next[i] = t && t._requiresGrad ? (t.gradFn ? { node: t.gradFn, leaf: null } : { node: null, leaf: t }) : null;
      shapes[i] = t ? t.shape : NO_SHAPE;
      dtypes[i] = t ? t.dtype : 'float32';
    }
    this.next = next;
    this.inputShapes = shapes;
    this.inputDtypes = dtypes;
    this.fn = fn;
    const sv = new Array<{ tensor: Tensor; version: number }>(saved.length);
    for (let i = 0; i < saved.length; i++) sv[i] = { tensor: saved[i], version: saved[i]._version };
    this.saved = sv;
  }

  /** PyTorch-style class name, e.g. MulBackward0. */
  get displayName(): string {
    return `${this.name.charAt(0).toUpperCase()}${this.name.slice(1)}Backward0`;
  }

  apply(grad: Tensor): (Tensor | null | undefined)[] {
    if (!this.fn)
      throw new AutogradError('backward', `trying to backward through the graph a second time (at ${this.displayName}); its saved tensors were freed after the first backward. Pass { retainGraph: true } to the first backward() if you need to call it twice.`);
    for (const s of this.saved) {
      if (s.tensor._version !== s.version)
        throw new AutogradError('backward', `one of the tensors needed for gradient computation by ${this.displayName} (shape [${s.tensor.shape.join(', ')}]) has been modified by an in-place operation: it is at version ${s.tensor._version}, expected version ${s.version}. Use an out-of-place op (e.g. x.add(y) instead of x.add_(y)) or clone() the tensor before modifying it.`);
    }
    return this.fn(grad);
  }

  /** Whether backward reads a tensor sharing this storage (an in-place op must not overwrite it). */
  savesStorage(storage: unknown): boolean {
    return this.saved.some((s) => s.tensor._storage === storage);
  }

  /** Drops the saved tensors and the closure (graph freed after backward). */
  release(): void {
    this.fn = null;
    this.saved = [];
  }
  get released(): boolean { return this.fn === null; }
}
