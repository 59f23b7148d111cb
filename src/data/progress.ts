/**
 * A progress bar for loops over a DataLoader (or any iterable), tqdm-style:
 *
 *   const bar = progress(loader, { desc: `epoch ${epoch}` });
 *   for (const [x, y] of bar) { ...; bar.setPostfix({ loss: loss.item() }); }
 *
 *   epoch 1:  42%|████████▍           | 394/938 [00:03<00:04, 121.3 it/s, 7763 samples/s, loss=0.4312]
 *
 * It draws on stderr only when stderr is a TTY (or on the stream given), redrawing at most every
 * `minInterval` ms; otherwise it is silent and only counts.
 */
import { Tensor } from '../tensor.js';

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Text before the bar. */
  desc?: string;
  /** Number of iterations (default: the iterable's `length` or `size`, when it has one). */
  total?: number;
  /** Where to draw (default process.stderr). */
  stream?: ProgressStream;
  /** Force drawing on or off (default: whether the stream is a TTY). */
  enabled?: boolean;
  /** Minimum milliseconds between redraws (default 100). */
  minInterval?: number;
  /** Keep the final bar on screen (default true); false clears it. */
  leave?: boolean;
  /** Count samples per batch (default: the first dimension of the batch's first tensor). */
  samplesOf?: (batch: unknown) => number;
}

export type Postfix = Record<string, number | string | boolean | Tensor> | string;

/** Samples in a batch: the leading dimension of the first tensor found (1 if none). */
export function countSamples(batch: unknown, depth = 0): number {
  if (batch instanceof Tensor) return batch.ndim === 0 ? 1 : batch.shape[0];
  if (depth > 4 || batch === null || typeof batch !== 'object') return 1;
  if (Array.isArray(batch)) return batch.length ? countSamples(batch[0], depth + 1) : 0;
  if (ArrayBuffer.isView(batch)) return 1;
  const first = Object.values(batch as object)[0];
  return first === undefined ? 1 : countSamples(first, depth + 1);
}

function fmtTime(sec: number): string {
  if (!Number.isFinite(sec)) return '?';
  const s = Math.round(sec);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = String(m).padStart(2, '0'), ss = String(r).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}
function fmtRate(r: number): string {
  if (!Number.isFinite(r)) return '?';
  return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2);
}
function fmtValue(v: unknown): string {
  if (v instanceof Tensor) v = v.numel() === 1 ? v.item() : v.toString();
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : String(Number(v.toPrecision(4)));
  }
  return String(v);
}
const BLOCKS = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];

export class ProgressBar<T> implements Iterable<T> {
  readonly iterable: Iterable<T> | null;
  total: number | null;
  desc: string;
  /** Iterations done. */
  n = 0;
  /** Samples seen. */
  samples = 0;
  readonly enabled: boolean;
  private readonly stream: ProgressStream;
  private readonly minInterval: number;
  private readonly leave: boolean;
  private readonly samplesOf: (batch: unknown) => number;
  private postfix = '';
  private start = 0;
  private lastDraw = -Infinity;
  private closed = false;

  constructor(iterable: Iterable<T> | null, opts: ProgressOptions = {}) {
    this.iterable = iterable;
    const len = iterable ? ((iterable as { length?: unknown }).length ?? (iterable as { size?: unknown }).size) : undefined;
    this.total = opts.total ?? (typeof len === 'number' ? len : null);
    this.desc = opts.desc ?? '';
    this.stream = opts.stream ?? process.stderr;
    this.enabled = opts.enabled ?? this.stream.isTTY === true;
    this.minInterval = opts.minInterval ?? 100;
    this.leave = opts.leave ?? true;
    this.samplesOf = opts.samplesOf ?? ((b) => countSamples(b));
    this.start = performance.now();
  }

  /** Text shown after the rates, e.g. `{ loss: 0.43 }` shows `loss=0.43`. */
  setPostfix(p: Postfix): void {
    this.postfix = typeof p === 'string' ? p : Object.entries(p).map(([k, v]) => `${k}=${fmtValue(v)}`).join(', ');
    if (this.enabled) this.draw(false);
  }
  setDescription(desc: string): void { this.desc = desc; }

  /** Records `n` more iterations (and `samples` samples) when driving the bar by hand. */
  update(n = 1, samples = n): void {
    this.n += n;
    this.samples += samples;
    if (this.enabled) this.draw(false);
  }

  /** Iterations per second and samples per second so far. */
  rates(): { itPerSec: number; samplesPerSec: number; elapsed: number } {
    const elapsed = (performance.now() - this.start) / 1000;
    return { itPerSec: elapsed > 0 ? this.n / elapsed : NaN, samplesPerSec: elapsed > 0 ? this.samples / elapsed : NaN, elapsed };
  }

  /** The current line (without control characters). */
  render(width = 100): string {
    const { itPerSec, samplesPerSec, elapsed } = this.rates();
    const prefix = this.desc ? `${this.desc}: ` : '';
    const rates = `${fmtRate(itPerSec)} it/s, ${fmtRate(samplesPerSec)} samples/s${this.postfix ? `, ${this.postfix}` : ''}`;
    if (this.total === null || this.total <= 0) return `${prefix}${this.n} it [${fmtTime(elapsed)}, ${rates}]`;
    const frac = Math.min(1, this.n / this.total);
    const eta = itPerSec > 0 ? (this.total - this.n) / itPerSec : NaN;
    const left = `${prefix}${String(Math.floor(frac * 100)).padStart(3)}%|`;
    const right = `| ${this.n}/${this.total} [${fmtTime(elapsed)}<${fmtTime(eta)}, ${rates}]`;
    const barWidth = Math.max(1, Math.min(40, width - left.length - right.length));
    const cells = frac * barWidth;
    const full = Math.floor(cells);
    let bar = '█'.repeat(full);
    if (full < barWidth) bar += BLOCKS[Math.floor((cells - full) * 8)] + ' '.repeat(barWidth - full - 1);
    return `${left}${bar}${right}`;
  }

  private draw(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.lastDraw < this.minInterval) return;
    this.lastDraw = now;
    const width = this.stream.columns ?? 100;
    let line = this.render(width);
    if (line.length > width) line = line.slice(0, Math.max(0, width - 1));
    this.stream.write(`\r${line}\x1b[K`);
  }

  /** Draws the final state and ends the line (or clears it when leave is false). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.enabled) return;
    if (this.leave) { this.draw(true); this.stream.write('\n'); } else this.stream.write('\r\x1b[K');
  }

  *[Symbol.iterator](): Iterator<T> {
    if (!this.iterable) throw new Error('progress: no iterable to iterate over; use update() to drive the bar by hand');
    this.start = performance.now();
    this.n = 0;
    this.samples = 0;
    this.closed = false;
    if (this.enabled) this.draw(true);
    try {
      for (const item of this.iterable) {
        yield item;
        this.n += 1;
        this.samples += this.samplesOf(item);
        if (this.enabled) this.draw(false);
      }
    } finally {
      this.close();
    }
  }
}

/** Wraps an iterable (e.g. a DataLoader) in a progress bar. */
export function progress<T>(iterable: Iterable<T>, opts: ProgressOptions = {}): ProgressBar<T> {
  return new ProgressBar(iterable, opts);
}
