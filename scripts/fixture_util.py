"""Encoding shared by the fixture generators (scripts/gen_*fixtures.py).

JSON has no NaN or infinities: they are written as the strings 'nan', 'inf' and '-inf' (the TS
tests decode them back, test/helpers/fixtures.ts). float32 values are written with 9
significant digits, the shortest decimal form that round-trips every float32.

Imported as a plain module: the generators run as `/usr/bin/python3 scripts/gen_....py`, which
puts scripts/ on sys.path.
"""
import json
import math
import os

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# torch dtype -> the dtype name the fixtures (and torchlet) use
DTYPE_NAMES = {
    torch.float32: 'float32', torch.float64: 'float64', torch.float16: 'float16', torch.bfloat16: 'bfloat16',
    torch.int32: 'int32', torch.int64: 'int64', torch.uint8: 'uint8', torch.bool: 'bool',
}


def fixture_dir(name):
    """test/fixtures/<name> (created if missing)."""
    out = os.path.join(ROOT, 'test', 'fixtures', name)
    os.makedirs(out, exist_ok=True)
    return out


def nonfinite(v):
    """v, with a non-finite float as 'nan', 'inf' or '-inf'."""
    if isinstance(v, float) and not math.isfinite(v):
        return 'nan' if v != v else ('inf' if v > 0 else '-inf')
    return v


def f32(v):
    """A float32 value to 9 significant digits (exact for float32)."""
    return float('%.9g' % v)


def enc(t):
    """A tensor as {'shape', 'dtype', 'data'} with data flattened row-major (None stays None)."""
    if t is None:
        return None
    t = t.detach()
    data = t.reshape(-1).tolist()
    if t.dtype == torch.float32:
        data = [nonfinite(f32(v)) for v in data]
    elif t.dtype.is_floating_point:
        data = [nonfinite(float(v)) for v in data]
    return {'shape': list(t.shape), 'dtype': DTYPE_NAMES[t.dtype], 'data': data}


def json_writer(out):
    """write(name, obj): obj as compact JSON to out/name, reporting the size."""
    def write(name, obj):
        with open(os.path.join(out, name), 'w') as f:
            json.dump(obj, f, separators=(',', ':'))
        print(f'wrote {name} ({os.path.getsize(os.path.join(out, name))} bytes)')
    return write
