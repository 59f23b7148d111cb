/**
 * A character-level language model: Embedding -> LSTM -> Linear, trained with truncated
 * backpropagation through time on the GNU GPL v3 text (which every Debian system ships), then
 * sampled with a temperature.
 *
 *   node --import=tsx examples/char_lstm.ts
 *
 * Environment (for quick runs): STEPS (default 300), SEQ_LEN (32), BATCH_SIZE (64),
 * HIDDEN (128), LR (5e-3), TEMPERATURE (0.8), SAMPLE_LEN (400), TEXT (path), SEED (0).
 */
import * as fs from 'node:fs';
import torch, { nn, optim, type Tensor } from '../src/index.js';

const TEXT = process.env.TEXT ?? '/usr/share/common-licenses/GPL-3';
const STEPS = Number(process.env.STEPS ?? 300);
const SEQ_LEN = Number(process.env.SEQ_LEN ?? 32);
const BATCH_SIZE = Number(process.env.BATCH_SIZE ?? 64);
const HIDDEN = Number(process.env.HIDDEN ?? 128);
const EMBED = 64;
const LR = Number(process.env.LR ?? 5e-3);
const TEMPERATURE = Number(process.env.TEMPERATURE ?? 0.8);
const SAMPLE_LEN = Number(process.env.SAMPLE_LEN ?? 400);
const LOG_EVERY = Number(process.env.LOG_EVERY ?? Math.max(1, Math.floor(STEPS / 10)));

torch.manualSeed(Number(process.env.SEED ?? 0));

// ---- data --------------------------------------------------------------------------------
// The text as character ids, cut into BATCH_SIZE parallel streams (PyTorch's word_language_model
// "batchify"): column b of `streams` is one contiguous slice of the text, so the hidden state
// carried from one chunk of SEQ_LEN characters to the next continues the same passage.
const text = fs.readFileSync(TEXT, 'utf8');
const vocab = [...new Set(text)].sort();
const charToId = new Map(vocab.map((c, i) => [c, i]));
const ids = torch.tensor([...text].map((c) => charToId.get(c)!), { dtype: 'int64' });
const streamLen = Math.floor(ids.shape[0] / BATCH_SIZE);
const streams = ids.narrow(0, 0, streamLen * BATCH_SIZE).view(BATCH_SIZE, streamLen).t().contiguous(); // [streamLen, B]
console.log(`${TEXT}: ${text.length} characters, vocabulary of ${vocab.length}`);

/** Inputs [SEQ_LEN, B] and next-character targets [SEQ_LEN, B] starting at row i. */
function getBatch(i: number): [Tensor, Tensor] {
  const len = Math.min(SEQ_LEN, streamLen - 1 - i);
  return [streams.narrow(0, i, len), streams.narrow(0, i + 1, len)];
}

// ---- model -------------------------------------------------------------------------------
class CharLSTM extends nn.Module {
  embed: nn.Embedding;
  lstm: nn.LSTM;
  head: nn.Linear;
  constructor(vocabSize: number, embedDim: number, hiddenSize: number) {
    super();
    this.embed = new nn.Embedding(vocabSize, embedDim);
    this.lstm = new nn.LSTM(embedDim, hiddenSize);
    this.head = new nn.Linear(hiddenSize, vocabSize);
  }

  /** x: [T, B] character ids; gives logits [T, B, vocab] and the final state. */
  override forward(x: Tensor, state: [Tensor, Tensor] | null = null): [Tensor, [Tensor, Tensor]] {
    const [out, newState] = this.lstm.forward(this.embed.forward(x), state);
    return [this.head.forward(out), newState];
  }
}

const model = new CharLSTM(vocab.length, EMBED, HIDDEN);
console.log(model.toString());
const lossFn = new nn.CrossEntropyLoss();
const optimizer = new optim.Adam(model.parameters(), { lr: LR });

// ---- training: truncated BPTT ---------------------------------------------------------------
model.train();
let state: [Tensor, Tensor] | null = null;
let pos = 0, running = 0, runningCount = 0;
const t0 = performance.now();
for (let step = 1; step <= STEPS; step++) {
  if (pos + 1 >= streamLen - 1) { pos = 0; state = null; }   // back to the start of the text
  const [x, y] = getBatch(pos);
  pos += x.shape[0];

  // Keep the hidden state's values but cut the graph: gradients flow back SEQ_LEN steps only.
  if (state) state = [state[0].detach(), state[1].detach()];
  const [logits, newState] = model.forward(x, state);
  state = newState;
  const loss = lossFn.forward(logits.view(-1, vocab.length), y.reshape(-1));

  optimizer.zeroGrad();
  loss.backward();
  nn.utils.clipGradNorm_(model.parameters(), 1.0);
  optimizer.step();

  running += loss.item();
  runningCount += 1;
  if (step % LOG_EVERY === 0 || step === STEPS) {
    const avg = running / runningCount;
    const sec = (performance.now() - t0) / 1000;
    console.log(`step ${String(step).padStart(4)}: loss ${avg.toFixed(4)} (perplexity ${Math.exp(avg).toFixed(2)}), ` +
      `${(step / sec).toFixed(1)} steps/s`);
    running = 0;
    runningCount = 0;
  }
}

// ---- sampling ----------------------------------------------------------------------------
/** Draws an index from the categorical distribution softmax(logits / temperature). */
function sampleChar(logits: Tensor, temperature: number): number {
  const probs = logits.div(temperature).softmax(-1).dataSync() as Float32Array;
  let r = torch.rand(1).item();
  for (let i = 0; i < probs.length; i++) {
    r -= probs[i];
    if (r <= 0) return i;
  }
  return probs.length - 1;
}

function generate(prompt: string, length: number, temperature: number): string {
  model.eval();
  return torch.noGrad(() => {
    const promptIds = [...prompt].map((c) => charToId.get(c) ?? 0);
    // Warm the state up on the prompt, then feed back one character at a time.
    let [logits, st] = model.forward(torch.tensor(promptIds, { dtype: 'int64' }).view(-1, 1));
    let out = prompt;
    for (let i = 0; i < length; i++) {
      const next = sampleChar(logits.select(0, -1).view(-1), temperature);
      out += vocab[next];
      [logits, st] = model.forward(torch.tensor([[next]], { dtype: 'int64' }), st);
    }
    return out;
  });
}

console.log(`\n--- sample (temperature ${TEMPERATURE}) ---`);
console.log(generate('The ', SAMPLE_LEN, TEMPERATURE));
console.log('--- end of sample ---');
