/** Tape nodes: one node per differentiable op result, with edges to its inputs' nodes or leaves. */
import type { Tensor } from '../tensor.js';
import type { DType } from '../dtype.js';
import { AutogradError } from '../errors.js';

/** Where an input's gradient goes: the node that produced it, or a leaf that accumulates it. */
export type Edge = { node: Node; leaf: null } | { node: null; leaf: Tensor } | null;

export type BackwardFn = (grad: Tensor) => (Tensor | null | undefined)[];

export class Node {
  readonly name: string;
  readonly next: Edge[];
  readonly inputShapes: (readonly number[])[];
  readonly inputDtypes: DType[];
  private fn: BackwardFn | null;
  private saved: { tensor: Tensor; version: number }[];
  /** Hooks registered on the (non-leaf) tensor this node produced. */
  preHooks: ((g: Tensor) => Tensor | void)[] = [];
  /** The output tensor, when it called retainGrad(). */
  retained: Tensor | null = null;

  constructor(name: string, inputs: readonly (Tensor | null)[], fn: BackwardFn, saved: Tensor[]) {
    this.name = name;
    this.next = inputs.map((t) => (t && t.requiresGrad ? (t.gradFn ? { node: t.gradFn, leaf: null } : { node: null, leaf: t }) : null));
    this.inputShapes = inputs.map((t) => (t ? t.shape : []));
    this.inputDtypes = inputs.map((t) => (t ? t.dtype : 'float32'));
    this.fn = fn;
    this.saved = saved.map((tensor) => ({ tensor, version: tensor._version }));
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
