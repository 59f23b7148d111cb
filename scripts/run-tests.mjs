// `npm test`: runs tap over test/**/*.test.ts and ends with one plain summary line
// ("N passed, N failed, N skipped") that CI systems read.
import { spawn } from 'node:child_process';

const args = ['node_modules/tap/dist/esm/run.mjs', '--reporter=tap', ...process.argv.slice(2)];
const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4000);
});
child.on('close', (code) => {
  const m = /# \{ (.*) \}\s*$/m.exec(tail.split('\n').filter((l) => l.startsWith('# {')).pop() ?? '');
  const stats = {};
  if (m) for (const part of m[1].split(',')) { const [k, v] = part.split(':').map((s) => s.trim()); stats[k] = Number(v); }
  const passed = stats.pass ?? 0, failed = stats.fail ?? (code === 0 ? 0 : 1), skipped = (stats.skip ?? 0) + (stats.todo ?? 0);
  console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(code ?? 1);
});
