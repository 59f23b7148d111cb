// The examples in examples/ run end to end (as child processes, with small settings from their
// environment variables), exit 0 and print what their tutorials promise.
import t from 'tap';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const haveFashion = ['train-images-idx3-ubyte', 'train-images-idx3-ubyte.gz'].some((f) =>
  fs.existsSync(path.join(process.env.TORCHLET_DATA ?? '/usr/share/datasets/fashion-mnist', f)));
const haveText = fs.existsSync('/usr/share/common-licenses/GPL-3');

function runExample(name: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import=tsx', path.join('examples', name)], {
      cwd: root,
      env: { ...process.env, ...env },
      timeout: 120_000,
      maxBuffer: 16 << 20,
    }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr, seconds: (performance.now() - t0) / 1000 });
    });
  });
}

/** Runs an example and checks it exits 0 and prints each pattern. */
function check(name: string, env: Record<string, string>, patterns: RegExp[], skip: string | false = false): void {
  t.test(name, { skip }, async (tt) => {
    const r = await runExample(name, env);
    tt.equal(r.code, 0, `${name} exits 0${r.code ? `\nstderr:\n${r.stderr.slice(-3000)}\nstdout:\n${r.stdout.slice(-2000)}` : ''}`);
    for (const p of patterns) tt.match(r.stdout, p, `prints ${p}`);
    tt.comment(`${name}: ${r.seconds.toFixed(1)} s`);
  });
}

const noData = haveFashion ? false : 'Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)';

check('mnist_mlp.ts', { EPOCHS: '1', LIMIT: '1000' }, [
  /train: 1000 images, test: 1000 images/,
  /Linear\(in_features=784, out_features=256, bias=True\)/,
  /epoch 1: train loss \d+\.\d+, test loss \d+\.\d+, test accuracy \d+\.\d+%, \d+ samples\/s/,
  /test accuracy: \d+\.\d+%/,
  /training: 1000 samples in [\d.]+ s, \d+ samples\/s/,
], noData);

check('mnist_cnn.ts', { EPOCHS: '1', LIMIT: '256' }, [
  /Conv2d\(1, 32, kernel_size=\(3, 3\), stride=\(1, 1\), padding=\(1, 1\)\)/,
  /epoch 1: train loss \d+\.\d+, test accuracy \d+\.\d+%, \d+ samples\/s/,
  /test accuracy: \d+\.\d+%/,
  /training: 256 samples in [\d.]+ s, \d+ samples\/s/,
  /saved 8 tensors to .*fashion_cnn\.safetensors/,
  /reloaded model test accuracy: \d+\.\d+% \(identical\)/,
], noData);

check('char_lstm.ts', { STEPS: '12', SEQ_LEN: '16', BATCH_SIZE: '16', HIDDEN: '32', LOG_EVERY: '4', SAMPLE_LEN: '40' }, [
  /GPL-3: \d+ characters, vocabulary of \d+/,
  /LSTM\(64, 32\)/,
  /step +4: loss \d+\.\d+ \(perplexity/,
  /step +12: loss \d+\.\d+ \(perplexity/,
  /--- sample \(temperature 0\.8\) ---\nThe [\s\S]{40}/,
], haveText ? false : '/usr/share/common-licenses/GPL-3 is missing');

const pgm = path.join(os.tmpdir(), `torchlet-gan-test-${process.pid}.pgm`);
t.teardown(() => fs.rmSync(pgm, { force: true }));
check('gan.ts', { STEPS: '6', LOG_EVERY: '3', LIMIT: '512', OUT: pgm }, [
  /step +3: loss D \d+\.\d+, loss G \d+\.\d+, D\(x\) [\d.]+, D\(G\(z\)\) [\d.]+/,
  /step +6: loss D/,
  /wrote a grid of 64 generated images to /,
], noData);
t.test('gan.ts wrote a valid PGM', { skip: noData }, async (tt) => {
  const buf = fs.readFileSync(pgm);
  const header = buf.subarray(0, 15).toString('latin1');
  tt.match(header, /^P5\n242 242\n255\n/, 'a binary 242x242 PGM header');
  tt.equal(buf.length, 15 + 242 * 242, 'header + one byte per pixel');
});

check('custom_function.ts', { STEPS: '30', LOG_EVERY: '10' }, [
  /gradcheck MyExp: true/,
  /gradcheck LinearFunction: true/,
  /gradcheck LinearFunction \(no bias\): true/,
  /straight-through grad tensor\(\[1\., 1\., 1\., 1\.\]\), true grad tensor\(\[0\., 0\., 0\., 0\.\]\)/,
  /step +30: loss \d+\.\d+/,
]);
