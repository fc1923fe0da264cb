"""PyTorch's side of the CNN benchmark (CPU): the `cnn` zoo model, channels-last input as Keel's.

Usage: /usr/bin/python3 bench/torch_cnn.py THREADS [--quick]. Prints JSON figures with the same
workload names as bench/cnn.ts. Debian's python3-torch is PyTorch 1.13 with oneDNN.
"""
import json
import statistics
import sys
import time

import torch
from torch import nn

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
quick = "--quick" in sys.argv
torch.set_num_threads(threads)
torch.manual_seed(0)


def cnn():
    # Keras's BN defaults (epsilon 1e-3, momentum 0.99 = PyTorch's 0.01); 'same' 3×3 convolutions.
    bn2 = lambda c: nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)
    conv = lambda i, o: nn.Conv2d(i, o, 3, padding=1, bias=False)
    return nn.Sequential(
        conv(1, 32), bn2(32), nn.ReLU(), conv(32, 32), bn2(32), nn.ReLU(), nn.MaxPool2d(2),
        conv(32, 64), bn2(64), nn.ReLU(), conv(64, 64), bn2(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128, bias=False), nn.BatchNorm1d(128, eps=1e-3, momentum=0.01), nn.ReLU(),
        nn.Linear(128, 10))


def median_ms(fn, reps, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


figures = []
samples = 512 if quick else 2048
x = torch.rand(samples, 1, 28, 28)
y = torch.randint(0, 10, (samples,))
for batch in (32, 128):
    model = cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def epoch():
        model.train()
        for start in range(0, samples, batch):
            opt.zero_grad()
            loss = loss_fn(model(x[start:start + batch]), y[start:start + batch])
            loss.backward()
            opt.step()

    ms = median_ms(epoch, 3 if quick else 5)
    figures.append({"workload": f"cnn train, batch {batch}", "unit": "samples/s", "value": samples / (ms / 1000), "higherIsBetter": True})

model = cnn().eval()
one = torch.rand(1, 1, 28, 28)
many = torch.rand(1000, 1, 28, 28)
with torch.no_grad():
    ms = median_ms(lambda: model(one), 50 if quick else 300, 20)
    figures.append({"workload": "cnn predict 1", "unit": "µs", "value": ms * 1000, "higherIsBetter": False})
    ms = median_ms(lambda: model(many), 3 if quick else 7)
    figures.append({"workload": "cnn predict 1,000", "unit": "samples/s", "value": 1000 / (ms / 1000), "higherIsBetter": True})

print(json.dumps({"version": torch.__version__, "threads": threads, "figures": figures}))
