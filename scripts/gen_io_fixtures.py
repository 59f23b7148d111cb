#!/usr/bin/python3
"""Writes the fixtures for test/io.test.ts into test/fixtures/io/.

Run with Debian's interpreter, the one python3-torch is installed for:
    /usr/bin/python3 scripts/gen_io_fixtures.py

Files written (all small):
  state_dict.pt      a dict of float32/float64/float16/int64/int32/uint8/bool tensors, a
                     non-contiguous transposed view, a 0-d tensor, an empty tensor, a view with a
                     storage offset, and two names sharing one storage
  model.pt           Sequential(Linear(4, 3), BatchNorm1d(3)).state_dict() after one training
                     step (running stats and num_batches_tracked)
  optimizer.pt       an Adam state_dict (nested dicts, lists, floats, tuples, None, bools)
  parameter.pt       a bare nn.Parameter with requires_grad
  full_model.pt      torch.save(model): a pickled Module, which must be refused
  legacy.pt          the pre-1.6 non-zip format, which must be refused with advice
  handmade.safetensors  written here with struct + json (no safetensors package)
  expected.json      every tensor's dtype, shape and values (flattened, row-major)
"""
import json
import os
import struct
import sys

import torch

from fixture_util import DTYPE_NAMES, fixture_dir, nonfinite


def read_safetensors(path):
    """An independent reader (struct + json + torch.frombuffer), for checking files torchlet writes."""
    dt = {'F32': torch.float32, 'F64': torch.float64, 'F16': torch.float16, 'BF16': torch.bfloat16,
          'I64': torch.int64, 'I32': torch.int32, 'U8': torch.uint8, 'BOOL': torch.bool}
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, e in header.items():
        if name == '__metadata__':
            continue
        b, end = e['data_offsets']
        t = torch.frombuffer(bytearray(data[b:end]), dtype=dt[e['dtype']]) if end > b else torch.empty(0, dtype=dt[e['dtype']])
        out[name] = describe(t.reshape(e['shape']))
    return {'tensors': out, 'metadata': header.get('__metadata__')}


OUT = fixture_dir('io')

torch.manual_seed(0)

def describe(t):
    """dtype, shape and row-major values; 16-bit floats as their raw bit patterns too."""
    t = t.detach().contiguous()
    d = {'dtype': DTYPE_NAMES[t.dtype], 'shape': list(t.shape)}
    if t.dtype in (torch.float16, torch.bfloat16):
        d['bits'] = t.view(torch.int16).reshape(-1).tolist()
        d['bits'] = [b & 0xFFFF for b in d['bits']]
        d['values'] = [nonfinite(v) for v in t.float().reshape(-1).tolist()]
    elif t.dtype == torch.bool:
        d['values'] = [1 if v else 0 for v in t.reshape(-1).tolist()]
    else:
        d['values'] = [nonfinite(v) for v in t.reshape(-1).tolist()]
    return d


if __name__ == '__main__' and len(sys.argv) == 3 and sys.argv[1] == '--read':
    # /usr/bin/python3 scripts/gen_io_fixtures.py --read FILE.safetensors: prints it as JSON
    print(json.dumps(read_safetensors(sys.argv[2]), allow_nan=False))
    sys.exit(0)

expected = {}

# ---- a flat state dict with every dtype and awkward layouts ----
base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 4
shared = torch.arange(10, dtype=torch.float32)
sd = {
    'f32': torch.randn(3, 4),
    'f64': torch.randn(2, 3, dtype=torch.float64),
    'f16': torch.tensor([1.5, -2.25, 65504.0, 6e-8, float('inf')], dtype=torch.float16),
    'bf16': torch.tensor([1.0, -3.140625, 1e30], dtype=torch.bfloat16),
    'i64': torch.tensor([[0, -1, 2 ** 40], [-(2 ** 52), 7, 123456789012]], dtype=torch.int64),
    'i32': torch.tensor([-2147483648, 0, 2147483647], dtype=torch.int32),
    'u8': torch.tensor([0, 1, 128, 255], dtype=torch.uint8),
    'bool': torch.tensor([[True, False], [False, True]]),
    'transposed': base.t(),  # 6 x 4, strides (1, 6)
    'permuted': torch.arange(24, dtype=torch.float64).reshape(2, 3, 4).permute(2, 0, 1),
    'scalar': torch.tensor(3.5),
    'empty': torch.zeros(0, 3),
    'offset_view': shared[3:7],  # storage offset 3
    'shared_head': shared[:5],
    'step_slice': torch.arange(12, dtype=torch.int64)[::3],  # stride 3
}
torch.save(sd, os.path.join(OUT, 'state_dict.pt'))
expected['state_dict.pt'] = {k: describe(v) for k, v in sd.items()}

# ---- a model's state dict: Linear + BatchNorm with num_batches_tracked ----
model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
x = torch.randn(8, 4)
loss = model(x).pow(2).mean()
loss.backward()
opt.step()
msd = model.state_dict()
torch.save(msd, os.path.join(OUT, 'model.pt'))
expected['model.pt'] = {k: describe(v) for k, v in msd.items()}
expected['model.pt.order'] = list(msd.keys())

# ---- an optimizer state dict (nested containers) ----
osd = opt.state_dict()
torch.save(osd, os.path.join(OUT, 'optimizer.pt'))
expected['optimizer.pt'] = {
    'exp_avg_0': describe(osd['state'][0]['exp_avg']),
    'step_0': describe(osd['state'][0]['step']) if torch.is_tensor(osd['state'][0]['step']) else osd['state'][0]['step'],
    'param_groups': [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in osd['param_groups']],
}

# ---- a bare Parameter ----
p = torch.nn.Parameter(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
torch.save(p, os.path.join(OUT, 'parameter.pt'))
expected['parameter.pt'] = describe(p)

# ---- things that must be refused ----
torch.save(model, os.path.join(OUT, 'full_model.pt'))
torch.save({'w': torch.ones(2)}, os.path.join(OUT, 'legacy.pt'), _use_new_zipfile_serialization=False)

# ---- safetensors written by hand: 8-byte LE header length, JSON, raw LE bytes ----
st_tensors = [
    ('weight', 'F32', [2, 3], struct.pack('<6f', 0.5, -1.0, 2.0, 3.25, -4.5, 1e-3)),
    ('bias', 'F64', [3], struct.pack('<3d', 1.0 / 3.0, -2.0, 1e100)),
    ('ids', 'I64', [2, 2], struct.pack('<4q', -5, 0, 2 ** 53, -(2 ** 40))),
    ('counts', 'I32', [3], struct.pack('<3i', -7, 0, 2147483647)),
    ('pixels', 'U8', [4], bytes([0, 7, 128, 255])),
    ('mask', 'BOOL', [3], bytes([1, 0, 1])),
    ('half', 'F16', [2], struct.pack('<2e', 1.5, -0.0999755859375)),
    ('brain', 'BF16', [2], struct.pack('<2H', 0x3F80, 0xC049)),  # 1.0, -3.140625
    ('scalar', 'F32', [], struct.pack('<f', 42.0)),
    ('nothing', 'F32', [0, 5], b''),
]
header = {'__metadata__': {'format': 'pt', 'source': 'gen_io_fixtures.py'}}
blob = b''
for name, dt, shape, raw in st_tensors:
    header[name] = {'dtype': dt, 'shape': shape, 'data_offsets': [len(blob), len(blob) + len(raw)]}
    blob += raw
hjson = json.dumps(header).encode()
hjson += b' ' * ((8 - len(hjson) % 8) % 8)
with open(os.path.join(OUT, 'handmade.safetensors'), 'wb') as f:
    f.write(struct.pack('<Q', len(hjson)) + hjson + blob)
exp_st = {}
for name, dt, shape, raw in st_tensors:
    if dt == 'F32':
        vals = list(struct.unpack('<%df' % (len(raw) // 4), raw))
    elif dt == 'F64':
        vals = list(struct.unpack('<%dd' % (len(raw) // 8), raw))
    elif dt == 'I64':
        vals = list(struct.unpack('<%dq' % (len(raw) // 8), raw))
    elif dt == 'I32':
        vals = list(struct.unpack('<%di' % (len(raw) // 4), raw))
    elif dt in ('U8', 'BOOL'):
        vals = list(raw)
    elif dt == 'F16':
        vals = list(struct.unpack('<%de' % (len(raw) // 2), raw))
    else:
        vals = None
    e = {'fileDtype': dt, 'shape': shape, 'values': vals, 'bits': list(struct.unpack('<%dH' % (len(raw) // 2), raw)) if dt in ('F16', 'BF16') else None}
    exp_st[name] = e
expected['handmade.safetensors'] = {'tensors': exp_st, 'metadata': header['__metadata__']}

# ---- plain pickles of nested containers, every protocol (hex), for the interpreter ----
import pickle  # noqa: E402
plain = {
    'ints': [0, 1, -1, 255, 256, 65535, 65536, -2 ** 31, 2 ** 31 - 1, 2 ** 40, -2 ** 52],
    'big': 2 ** 70, 'negbig': -(2 ** 65) - 1,
    'floats': [0.5, -1e300, 3.141592653589793],
    'none': None, 'flags': (True, False),
    'text': 'ascii', 'unicode': 'ünïcødé ✓ \U0001F600', 'bytes': b'\x00\x01\xff',
    'nested': {1: 'one', 2: ('two', [2.0])},
    'tuples': [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)],
    'set': {7},
    'shared': None,
}
lst = [1, 2]
plain['shared'] = [lst, lst]
expected['pickles'] = {str(p): pickle.dumps(plain, protocol=p).hex() for p in range(0, 6)}

with open(os.path.join(OUT, 'expected.json'), 'w') as f:
    json.dump(expected, f, indent=1, allow_nan=False)

total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
print(f'wrote {len(os.listdir(OUT))} files, {total} bytes, to {os.path.relpath(OUT)}')
