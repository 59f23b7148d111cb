/**
 * Leak checks: live tensors per device (torch.memory) must return to their starting count once
 * a test's tensors are unreachable. Storage is reclaimed through a FinalizationRegistry, so we
 * force full collections (gc exposed at run time via v8 flags, no node option needed) and let
 * the finalizers run before counting.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import torch from '../../src/index.js';

v8.setFlagsFromString('--expose_gc');
const gcFn = ((globalThis as any).gc as (() => void) | undefined) ?? (vm.runInNewContext('gc') as () => void);

/** Full GCs with turns of the event loop in between, so FinalizationRegistry callbacks run. */
export async function settle(rounds = 2): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    gcFn();
    await new Promise((r) => setTimeout(r, 0));
  }
}

/**
 * Live tensors on a device once collection has settled. With `atMost`, collects again (up to a
 * few times) while the count is above it, so a slow finalizer is not mistaken for a leak.
 */
export async function liveTensors(device?: string, atMost?: number): Promise<number> {
  await settle();
  let n = torch.memory(device).tensors;
  if (atMost === undefined) {
    // a baseline: collect until the count stops falling, so garbage from earlier tests that is
    // finalized late is not counted in it (and later read as tensors this test freed)
    for (let i = 0; i < 5; i++) {
      await settle();
      const m = torch.memory(device).tensors;
      if (m === n) break;
      n = m;
    }
    return n;
  }
  for (let i = 0; n > atMost && i < 3; i++) {
    await settle(3);
    n = torch.memory(device).tensors;
  }
  return n;
}

/**
 * Runs fn (whose tensors must all be unreachable when it returns) and returns how many
 * tensors it left alive on the device. Pass `before` to reuse a count taken just before.
 */
export async function leaked(device: string | undefined, fn: () => unknown | Promise<unknown>, before?: number): Promise<{ leaked: number; after: number }> {
  const b = before ?? (await liveTensors(device));
  await fn();
  const after = await liveTensors(device, b);
  return { leaked: after - b, after };
}
