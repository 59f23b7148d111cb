import t from 'tap';
import torch from '../src/index.js';

t.test('a tensor round-trips through autograd', (t) => {
  const x = torch.tensor([[1, 2], [3, 4]], { dtype: 'float32', requiresGrad: true });
  x.mul(x).sum().backward();
  t.same(x.grad!.tolist(), [[2, 4], [6, 8]]);
  t.end();
});
