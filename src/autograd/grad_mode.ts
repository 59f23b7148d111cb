/** Global grad mode (PyTorch's torch.is_grad_enabled). */
let enabled = true;

export function isGradEnabled(): boolean { return enabled; }
export function setGradEnabled(b: boolean): void { enabled = !!b; }

function withMode<T>(mode: boolean, fn: () => T): T {
  const prev = enabled;
  enabled = mode;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    enabled = prev;
    throw e;
  }
  if (result instanceof Promise) {
    // the mode covers the synchronous part only; restore when the promise settles too
    enabled = prev;
    return result;
  }
  enabled = prev;
  return result;
}
/** Runs fn with gradient recording off and returns its result. */
export function noGrad<T>(fn: () => T): T { return withMode(false, fn); }
/** Runs fn with gradient recording on and returns its result. */
export function enableGrad<T>(fn: () => T): T { return withMode(true, fn); }
