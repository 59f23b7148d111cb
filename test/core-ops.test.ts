// The op table (test/optable/) on every available device: values, dtypes, shapes, gradients and
// views against PyTorch's fixtures, error inputs, and a leak check around every entry.
import t from 'tap';
import torch from '../src/index.js';
import { runOpTable } from './optable/runner.js';

// TORCHLET_TEST_DEVICES=cpu,webgpu restricts the devices (default: every available one)
const only = process.env.TORCHLET_TEST_DEVICES?.split(',').map((d) => d.trim()).filter(Boolean);
for (const device of torch.availableDevices().filter((d) => !only || only.includes(d) || only.includes(d.split(':')[0]))) {
  t.test(`op table on ${device}`, async (tt) => {
    const r = await runOpTable(tt, device);
    tt.comment(`${device}: ${r.entries} ops, ${r.samples} samples, ${r.compared} comparisons, ${r.skipped.length} skipped`);
  });
}
