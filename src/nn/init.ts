/**
 * nn.init: in-place initialisers (run without recording gradients), with PyTorch's fan and
 * gain rules, so layers initialise as PyTorch's reset_parameters do.
 *
 *   nn.init.kaimingNormal_(conv.weight, { mode: 'fan_out', nonlinearity: 'relu' });
 *   nn.init.zeros_(conv.bias!);
 */
import { Tensor } from '../tensor.js';
import * as ops from '../ops/index.js';
import { noGrad } from '../autograd/grad_mode.js';
import { TorchError, ShapeError, fmtShape } from '../errors.js';
import { randn1 } from '../ops/random.js';

export type Nonlinearity =
  | 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'conv_transpose1d' | 'conv_transpose2d' | 'conv_transpose3d'
  | 'convTranspose1d' | 'convTranspose2d' | 'convTranspose3d'
  | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'leakyRelu' | 'selu';

function checkT(op: string, t: unknown): Tensor {
  if (!(t instanceof Tensor)) throw new TorchError(op, `expected a Tensor, got ${t === null ? 'null' : typeof t}`);
  return t;
}

/** The recommended gain for a nonlinearity (PyTorch's calculate_gain). */
export function calculateGain(nonlinearity: Nonlinearity | string, param?: number | null): number {
  switch (nonlinearity) {
    case 'linear': case 'conv1d': case 'conv2d': case 'conv3d': case 'sigmoid':
    case 'conv_transpose1d': case 'conv_transpose2d': case 'conv_transpose3d':
    case 'convTranspose1d': case 'convTranspose2d': case 'convTranspose3d':
      return 1;
    case 'tanh': return 5 / 3;
    case 'relu': return Math.SQRT2;
    case 'leaky_relu': case 'leakyRelu': {
      const slope = param === undefined || param === null ? 0.01 : param;
      if (typeof slope !== 'number' || !Number.isFinite(slope)) throw new TorchError('calculateGain', `negative_slope ${String(param)} is not a valid number`);
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu': return 3 / 4;
    default: throw new TorchError('calculateGain', `unsupported nonlinearity ${nonlinearity}`);
  }
}

/** [fanIn, fanOut] of a weight: size(1) and size(0) times the receptive field (PyTorch's rule). */
export function calculateFanInAndFanOut(t: Tensor): [number, number] {
  checkT('calculateFanInAndFanOut', t);
  if (t.ndim < 2) throw new ShapeError('calculateFanInAndFanOut', `fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (shape ${fmtShape(t.shape)})`);
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return [t.shape[1] * receptive, t.shape[0] * receptive];
}

function fanOf(op: string, t: Tensor, mode: 'fan_in' | 'fan_out' | 'fanIn' | 'fanOut'): number {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  if (mode === 'fan_in' || mode === 'fanIn') return fanIn;
  if (mode === 'fan_out' || mode === 'fanOut') return fanOut;
  throw new TorchError(op, `mode ${String(mode)} not supported, please use one of 'fan_in', 'fan_out'`);
}

/** Fills with U(a, b). */
export function uniform_<T extends Tensor>(tensor: T, a = 0, b = 1): T {
  checkT('uniform_', tensor);
  return noGrad(() => tensor.uniform_(a, b));
}
/** Fills with N(mean, std^2). */
export function normal_<T extends Tensor>(tensor: T, mean = 0, std = 1): T {
  checkT('normal_', tensor);
  return noGrad(() => tensor.normal_(mean, std));
}
/** Fills with N(mean, std^2) redrawn until inside [a, b]. */
export function truncNormal_<T extends Tensor>(tensor: T, mean = 0, std = 1, a = -2, b = 2): T {
  checkT('truncNormal_', tensor);
  const n = tensor.numel();
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let x: number;
    let tries = 0;
    do { x = mean + std * randn1(); } while ((x < a || x > b) && ++tries < 1000);
    v[i] = Math.min(Math.max(x, a), b);
  }
  return noGrad(() => tensor.copy_(ops.fromBuffer(v, [...tensor.shape], { device: 'cpu' }).to({ device: tensor.device, dtype: tensor.dtype })));
}
/** Fills with val. */
export function constant_<T extends Tensor>(tensor: T, val: number): T {
  checkT('constant_', tensor);
  return noGrad(() => tensor.fill_(val));
}
export function zeros_<T extends Tensor>(tensor: T): T { return constant_(tensor, 0); }
export function ones_<T extends Tensor>(tensor: T): T { return constant_(tensor, 1); }
/** Fills a 2-D tensor with the identity matrix. */
export function eye_<T extends Tensor>(tensor: T): T {
  checkT('eye_', tensor);
  if (tensor.ndim !== 2) throw new ShapeError('eye_', `only tensors with 2 dimensions are supported, got shape ${fmtShape(tensor.shape)}`);
  return noGrad(() => tensor.copy_(ops.eye(tensor.shape[0], tensor.shape[1], { device: tensor.device, dtype: tensor.dtype })));
}

/** Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fanIn + fanOut)). */
export function xavierUniform_<T extends Tensor>(tensor: T, gain = 1): T {
  const [fanIn, fanOut] = calculateFanInAndFanOut(checkT('xavierUniform_', tensor));
  const a = Math.sqrt(3) * gain * Math.sqrt(2 / (fanIn + fanOut));
  return uniform_(tensor, -a, a);
}
/** Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fanIn + fanOut)). */
export function xavierNormal_<T extends Tensor>(tensor: T, gain = 1): T {
  const [fanIn, fanOut] = calculateFanInAndFanOut(checkT('xavierNormal_', tensor));
  return normal_(tensor, 0, gain * Math.sqrt(2 / (fanIn + fanOut)));
}

export interface KaimingOptions { a?: number; mode?: 'fan_in' | 'fan_out' | 'fanIn' | 'fanOut'; nonlinearity?: Nonlinearity | string }

/** He uniform: U(-bound, bound) with bound = gain * sqrt(3 / fan); defaults a=0, mode 'fan_in', nonlinearity 'leaky_relu'. */
export function kaimingUniform_<T extends Tensor>(tensor: T, opts: KaimingOptions = {}): T {
  checkT('kaimingUniform_', tensor);
  if (tensor.numel() === 0) return tensor;
  const fan = fanOf('kaimingUniform_', tensor, opts.mode ?? 'fan_in');
  const gain = calculateGain(opts.nonlinearity ?? 'leaky_relu', opts.a ?? 0);
  const bound = Math.sqrt(3) * (gain / Math.sqrt(fan));
  return uniform_(tensor, -bound, bound);
}
/** He normal: N(0, std^2) with std = gain / sqrt(fan). */
export function kaimingNormal_<T extends Tensor>(tensor: T, opts: KaimingOptions = {}): T {
  checkT('kaimingNormal_', tensor);
  if (tensor.numel() === 0) return tensor;
  const fan = fanOf('kaimingNormal_', tensor, opts.mode ?? 'fan_in');
  const gain = calculateGain(opts.nonlinearity ?? 'leaky_relu', opts.a ?? 0);
  return normal_(tensor, 0, gain / Math.sqrt(fan));
}

/** A (semi-)orthogonal matrix, as PyTorch: QR of a normal matrix with the signs of R's diagonal fixed; higher dims are flattened. */
export function orthogonal_<T extends Tensor>(tensor: T, gain = 1): T {
  checkT('orthogonal_', tensor);
  if (tensor.ndim < 2) throw new ShapeError('orthogonal_', `only tensors with 2 or more dimensions are supported, got shape ${fmtShape(tensor.shape)}`);
  if (tensor.numel() === 0) return tensor;
  const rows = tensor.shape[0], cols = tensor.numel() / rows;
  const transposed = rows < cols;
  const m = transposed ? cols : rows, n = transposed ? rows : cols; // m >= n
  // a: m x n, column-major work copy
  const a = new Float64Array(m * n);
  for (let i = 0; i < m * n; i++) a[i] = randn1();
  const q = householderQ(a, m, n);
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    const v = q[j * m + i] * gain;
    if (transposed) out[j * cols + i] = v; else out[i * cols + j] = v;
  }
  return noGrad(() => tensor.copy_(ops.fromBuffer(out, [...tensor.shape], { device: 'cpu' }).to({ device: tensor.device, dtype: tensor.dtype })));
}

/**
 * The m x n Q factor (column-major) of a column-major m x n matrix (m >= n) by Householder
 * reflections, with columns scaled so that R has a positive diagonal (Q * sign(diag(R))).
 */
function householderQ(a: Float64Array, m: number, n: number): Float64Array {
  const vs: Float64Array[] = [];
  const rdiag = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let norm = 0;
    for (let i = k; i < m; i++) norm += a[k * m + i] ** 2;
    norm = Math.sqrt(norm);
    const x0 = a[k * m + k];
    const alpha = x0 >= 0 ? -norm : norm;
    const v = new Float64Array(m);
    for (let i = k; i < m; i++) v[i] = a[k * m + i];
    v[k] -= alpha;
    let vn = 0;
    for (let i = k; i < m; i++) vn += v[i] * v[i];
    vn = Math.sqrt(vn);
    if (vn > 0) for (let i = k; i < m; i++) v[i] /= vn;
    vs.push(v);
    // apply H = I - 2vv^T to the remaining columns
    for (let j = k; j < n; j++) {
      let d = 0;
      for (let i = k; i < m; i++) d += v[i] * a[j * m + i];
      for (let i = k; i < m; i++) a[j * m + i] -= 2 * v[i] * d;
    }
    rdiag[k] = a[k * m + k];
  }
  // Q = H0 H1 ... H(n-1) applied to the first n columns of I
  const q = new Float64Array(m * n);
  for (let j = 0; j < n; j++) q[j * m + j] = 1;
  for (let k = n - 1; k >= 0; k--) {
    const v = vs[k];
    for (let j = 0; j < n; j++) {
      let d = 0;
      for (let i = k; i < m; i++) d += v[i] * q[j * m + i];
      for (let i = k; i < m; i++) q[j * m + i] -= 2 * v[i] * d;
    }
  }
  for (let j = 0; j < n; j++) if (rdiag[j] < 0) for (let i = 0; i < m; i++) q[j * m + i] = -q[j * m + i];
  return q;
}
