// Builds dist/: one ESM bundle with esbuild, and .d.ts files with tsc.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: ['src/index.ts'],
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outfile: 'dist/index.js',
  external: ['koffi', 'webgpu'],
  sourcemap: true,
  keepNames: true, // module reprs print class names
  logLevel: 'warning',
});
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--emitDeclarationOnly', '--declaration', '--outDir', 'dist'], { stdio: 'inherit' });
console.log('built dist/index.js and dist/*.d.ts');
