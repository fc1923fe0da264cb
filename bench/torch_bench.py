"""PyTorch's side of the benchmark (CPU), on the workloads of bench/common.ts. Prints JSON figures.

Run with /usr/bin/python3 (Debian's python3-torch). Thread count comes from the environment
(OPENBLAS_NUM_THREADS / torch.set_num_threads), chosen by bench/run.ts.
"""
import json
import sys

import torch
from torch import nn

from torch_common import median_ms

TRAIN_SAMPLES = 8192
PREDICT_MANY = 10000
BN_SHAPES = [(256, 1024), (32, 300)]
GEMM_SHAPES = json.loads(sys.argv[2]) if len(sys.argv) > 2 else []
threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch.set_num_threads(threads)
torch.manual_seed(0)


def time_it(fn, reps, warmup=2):
    return median_ms(fn, reps, warmup)


def seed_model():
    # Keras's BatchNormalization defaults: epsilon 1e-3, momentum 0.99 (PyTorch's momentum is 1 − that).
    bn = lambda n: nn.BatchNorm1d(n, eps=1e-3, momentum=0.01)
    return nn.Sequential(bn(784), nn.Linear(784, 300), nn.ReLU(), bn(300), nn.Linear(300, 100), nn.ReLU(), bn(100),
                         nn.Linear(100, 10))


figures = []
x = torch.rand(TRAIN_SAMPLES, 784)
y = torch.randint(0, 10, (TRAIN_SAMPLES,))
for batch in (32, 256):
    model = seed_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()  # softmax + cross-entropy, fused as in Keel

    def epoch():
        model.train()
        order = torch.randperm(TRAIN_SAMPLES)
        for start in range(0, TRAIN_SAMPLES, batch):
            idx = order[start:start + batch]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()

    ms = time_it(epoch, 5, 1)
    figures.append({"workload": f"train batch {batch}", "unit": "samples/s", "value": TRAIN_SAMPLES / (ms / 1000),
                    "higherIsBetter": True})

model = seed_model().eval()
one = torch.rand(1, 784)
reps = 2000
with torch.no_grad():
    def predict_one():
        for _ in range(reps):
            torch.softmax(model(one), 1)
    ms = time_it(predict_one, 7, 1)
    figures.append({"workload": "predict 1", "unit": "µs", "value": ms / reps * 1000, "higherIsBetter": False})
    many = torch.rand(PREDICT_MANY, 784)
    ms = time_it(lambda: torch.softmax(model(many), 1), 7, 1)
    figures.append({"workload": f"predict {PREDICT_MANY}", "unit": "samples/s", "value": PREDICT_MANY / (ms / 1000),
                    "higherIsBetter": True})

for rows, cols in BN_SHAPES:
    xb = torch.rand(rows, cols, requires_grad=True)
    dy = torch.rand(rows, cols)
    gamma = torch.rand(cols, requires_grad=True)
    beta = torch.rand(cols, requires_grad=True)
    inner = 50

    def bn_step():
        for _ in range(inner):
            out = torch.nn.functional.batch_norm(xb, None, None, gamma, beta, training=True, eps=1e-3)
            out.backward(dy)

    ms = time_it(bn_step, 9, 1)
    figures.append({"workload": f"BN fwd+bwd {rows}x{cols}", "unit": "µs", "value": ms / inner * 1000,
                    "higherIsBetter": False})

for g in GEMM_SHAPES:
    a = torch.rand(g["k"], g["m"]) if g["transA"] else torch.rand(g["m"], g["k"])
    b = torch.rand(g["n"], g["k"]) if g["transB"] else torch.rand(g["k"], g["n"])
    out = torch.empty(g["m"], g["n"])
    flops = 2 * g["m"] * g["n"] * g["k"]
    inner = max(1, round(2e9 / flops / 5))
    opa = a.t() if g["transA"] else a
    opb = b.t() if g["transB"] else b

    def mm():
        for _ in range(inner):
            torch.mm(opa, opb, out=out)

    ms = time_it(mm, 5, 1)
    figures.append({"workload": f"GEMM {g['name']}", "unit": "GFLOP/s", "value": flops / (ms / inner / 1000) / 1e9,
                    "higherIsBetter": True})

print(json.dumps({"version": torch.__version__, "threads": threads, "figures": figures}))
