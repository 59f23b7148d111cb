// The op table (test/optable/) on every available device: values, dtypes, shapes, gradients and
// views against PyTorch's fixtures, error inputs, and a leak check around every entry.
import t from 'tap';
import torch from '../src/index.js';
import { runOpTable } from './optable/runner.js';
import { OP_TABLE, API_TENSOR_OPS } from './optable/table.js';
import { opFixtures } from './optable/fixtures.js';

// TORCHLET_TEST_DEVICES=cpu,webgpu restricts the devices (default: every available one)
const only = process.env.TORCHLET_TEST_DEVICES?.split(',').map((d) => d.trim()).filter(Boolean);
for (const device of torch.availableDevices().filter((d) => !only || only.includes(d) || only.includes(d.split(':')[0]))) {
  t.test(`op table on ${device}`, async (tt) => {
    const r = await runOpTable(tt, device);
    tt.comment(`${device}: ${r.entries} ops, ${r.samples} samples, ${r.compared} comparisons, ${r.skipped.length} skipped`);
  });
}

t.test('every op of API.md\'s Tensor section has an op-table entry with fixture rows', async (t) => {
  const covered = new Set(OP_TABLE.flatMap((e) => e.api));
  for (const name of API_TENSOR_OPS) t.ok(covered.has(name), `${name} is in the op table`);
  const fx = opFixtures();
  for (const e of OP_TABLE) t.ok(fx[e.name] && fx[e.name].samples.length > 0, `${e.name} has PyTorch fixture rows`);
  for (const name of Object.keys(fx)) t.ok(OP_TABLE.some((e) => e.name === name), `fixture op ${name} is run by an entry`);
});
