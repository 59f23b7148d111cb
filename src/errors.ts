/** Typed errors: every message names the op, and what the user can do. */
export class TorchError extends Error {
  readonly op: string;
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
    this.name = 'TorchError';
    this.op = op;
  }
}
/** Wrong or incompatible shapes. */
export class ShapeError extends TorchError { constructor(op: string, m: string) { super(op, m); this.name = 'ShapeError'; } }
/** Unsupported or mismatched dtypes. */
export class DTypeError extends TorchError { constructor(op: string, m: string) { super(op, m); this.name = 'DTypeError'; } }
/** Tensors on different devices, or a device that is unavailable. */
export class DeviceError extends TorchError { constructor(op: string, m: string) { super(op, m); this.name = 'DeviceError'; } }
/** A dimension or index out of range. */
export class IndexError extends TorchError { constructor(op: string, m: string) { super(op, m); this.name = 'IndexError'; } }
/** Autograd misuse: backward twice, modified saved tensors, non-scalar backward. */
export class AutogradError extends TorchError { constructor(op: string, m: string) { super(op, m); this.name = 'AutogradError'; } }

export function fmtShape(s: readonly number[]): string { return `[${s.join(', ')}]`; }
