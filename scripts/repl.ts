// `npm run repl`: Node's REPL with torch loaded (top-level await works in Node's REPL).
import repl from 'node:repl';
import torch, * as named from '../src/index.js';

console.log(`torchlet REPL — devices: ${torch.availableDevices().join(', ')}. 'torch', 'nn', 'F', 'optim' are in scope.`);
const r = repl.start({ prompt: 'torch> ', useGlobal: true });
Object.assign(r.context, { torch, ...named });
