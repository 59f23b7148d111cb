// `npm test`: runs tap over test/**/*.test.ts and ends with one plain summary line
// ("N passed, N failed, N skipped") that CI systems read.
import { spawn, spawnSync } from 'node:child_process';

// tap compiles its plugin set into node_modules at build time; a fresh `npm ci` has the default
// set (with its TypeScript plugin, which breaks with TypeScript 7). Rebuild with package.json's
// plugin list (tests run through tsx instead).
const built = spawnSync(process.execPath, ['node_modules/tap/dist/esm/run.mjs', 'build'], { stdio: ['ignore', 'ignore', 'inherit'] });
if (built.status !== 0) process.exit(built.status ?? 1);
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
