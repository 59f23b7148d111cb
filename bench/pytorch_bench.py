"""PyTorch side of `npm run bench`: the same workloads as bench/torchlet.ts, printed as JSON.

Run with Debian's /usr/bin/python3 (python3-torch). Times are medians in milliseconds.
"""
import json, os, resource, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get('BENCH_THREADS', '2')))
torch.manual_seed(0)
QUICK = os.environ.get('BENCH_QUICK') == '1'
REPS = 3 if QUICK else 7
WARM_MS, REP_MS = (100, 10) if QUICK else (300, 25)
TRAIN_WARM_MS = 100 if QUICK else 2000  # training steps, as in bench/torchlet_bench.ts
only = set(sys.argv[1:])
results = {}


def timeit(name, fn, reps=REPS, inner=1):
    if only and not any(name.startswith(o) for o in only):
        return
    # same rule as bench/torchlet_bench.ts: warm up WARM_MS (TRAIN_WARM_MS for training steps), then repetitions of at least REP_MS
    warm = TRAIN_WARM_MS if name.startswith('train_') else WARM_MS
    fn()
    w0 = time.perf_counter()
    calls = 0
    while (time.perf_counter() - w0) * 1000 < warm or calls < 2:
        fn()
        calls += 1
    per = (time.perf_counter() - w0) * 1000 / calls
    inner = max(inner, -(-REP_MS // max(per, 1e-6)))
    inner = int(inner)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) * 1000 / inner)
    times.sort()
    results[name] = times[len(times) // 2]


def matmuls():
    for n in ([64, 256, 1024] if QUICK else [64, 256, 512, 1024, 2048]):
        for dt, tag in ((torch.float32, 'f32'), (torch.float64, 'f64')):
            a, b = torch.randn(n, n, dtype=dt), torch.randn(n, n, dtype=dt)
            timeit(f'matmul_{n}_{tag}', lambda: a @ b, inner=max(1, 2048 // n // 4))


def elementwise():
    x = torch.randn(4 * 1024 * 1024)
    y = torch.randn(4 * 1024 * 1024)
    timeit('add_4M', lambda: x + y)
    timeit('mul_4M', lambda: x * y)
    timeit('exp_4M', lambda: torch.exp(x))
    timeit('tanh_4M', lambda: torch.tanh(x))
    timeit('sigmoid_4M', lambda: torch.sigmoid(x))
    timeit('gelu_4M', lambda: F.gelu(x))
    timeit('sum_4M', lambda: x.sum())
    timeit('max_4M', lambda: x.max())
    m = x.view(4096, 1024)
    timeit('softmax_4096x1024', lambda: torch.softmax(m, -1))
    timeit('logsoftmax_4096x1024', lambda: torch.log_softmax(m, -1))
    sq = torch.randn(2048, 2048)
    timeit('transpose_contiguous_2048', lambda: sq.t().contiguous())


def dispatch():
    a, b = torch.randn(4), torch.randn(4)
    n = 2000 if QUICK else 10000
    def run():
        for _ in range(n):
            a + b
    timeit('dispatch_nograd_us', run)
    results['dispatch_nograd_us'] = results.get('dispatch_nograd_us', 0) * 1000 / n
    ag = torch.randn(4, requires_grad=True)
    def run_grad():
        for _ in range(n):
            ag + b
    timeit('dispatch_grad_us', run_grad)
    results['dispatch_grad_us'] = results.get('dispatch_grad_us', 0) * 1000 / n


def conv_bn_lstm():
    x = torch.randn(64, 1, 28, 28)
    conv = nn.Conv2d(1, 32, 3, padding=1)
    timeit('conv2d_fwd', lambda: conv(x))
    def fb():
        conv.zero_grad()
        conv(x).sum().backward()
    timeit('conv2d_fwdbwd', fb)
    x2 = torch.randn(64, 32, 14, 14)
    conv2 = nn.Conv2d(32, 64, 3, padding=1)
    timeit('conv2d_32to64_fwd', lambda: conv2(x2))
    bn = nn.BatchNorm2d(32)
    timeit('batchnorm2d_fwd', lambda: bn(x2))
    cell = nn.LSTM(128, 256, batch_first=True)
    xs = torch.randn(64, 1, 128)
    with torch.no_grad():
        timeit('lstm_step', lambda: cell(xs))


def train_loops():
    # MLP 784-256-128-10, batch 64, Adam
    mlp = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(mlp.parameters(), lr=1e-3)
    xb, yb = torch.rand(64, 784), torch.randint(0, 10, (64,))
    def step_mlp():
        opt.zero_grad()
        F.cross_entropy(mlp(xb), yb).backward()
        opt.step()
    timeit('train_mlp_step', step_mlp, inner=20)
    cnn = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
    copt = torch.optim.Adam(cnn.parameters(), lr=1e-3)
    xi = torch.rand(64, 1, 28, 28)
    def step_cnn():
        copt.zero_grad()
        F.cross_entropy(cnn(xi), yb).backward()
        copt.step()
    timeit('train_cnn_step', step_cnn, inner=2)

    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(96, 64)
            self.lstm = nn.LSTM(64, 128, batch_first=True)
            self.head = nn.Linear(128, 96)
        def forward(self, x):
            h, _ = self.lstm(self.emb(x))
            return self.head(h)
    lm = CharLSTM()
    lopt = torch.optim.Adam(lm.parameters(), lr=1e-3)
    xt = torch.randint(0, 96, (32, 32))
    yt = torch.randint(0, 96, (32, 32))
    def step_lstm():
        lopt.zero_grad()
        F.cross_entropy(lm(xt).reshape(-1, 96), yt.reshape(-1)).backward()
        lopt.step()
    timeit('train_lstm_step', step_lstm, inner=2)


def peak_rss_mlp():
    if only and 'rss' not in only:
        return
    mlp = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(mlp.parameters(), lr=1e-3)
    xb, yb = torch.rand(64, 784), torch.randint(0, 10, (64,))
    for _ in range(300):
        opt.zero_grad()
        F.cross_entropy(mlp(xb), yb).backward()
        opt.step()
    results['rss_mlp_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == '__main__':
    if os.environ.get('BENCH_RSS_ONLY') == '1':
        peak_rss_mlp()
    else:
        matmuls(); elementwise(); dispatch(); conv_bn_lstm(); train_loops()
    results['_version'] = torch.__version__
    results['_threads'] = torch.get_num_threads()
    print(json.dumps(results))
