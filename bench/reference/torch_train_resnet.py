"""The PyTorch reference for `keel train --model resnet`: the same ResNet-20 (bench/torch_resnet.py),
the same split (bench/reference/dump-split.ts), the same settings (SGD, momentum 0.9, learning rate
0.01, batch 64, 5 epochs, shuffled each epoch). Prints validation and test accuracy per epoch as JSON.

Usage: /usr/bin/python3 bench/reference/torch_train_resnet.py SPLIT_DIR [THREADS] [SEED]
"""
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from torch_resnet import resnet  # noqa: E402  (the benchmark's network: same layers, Keras's BN defaults)

split = sys.argv[1]
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
torch.set_num_threads(threads)
torch.manual_seed(seed)


def part(name):
    x = np.fromfile(os.path.join(split, f"{name}-x.f32"), dtype="<f4").reshape(-1, 1, 28, 28)
    y = np.fromfile(os.path.join(split, f"{name}-y.i32"), dtype="<i4").astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


train, validation, test = part("train"), part("validation"), part("test")
model = resnet()
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
loss_fn = nn.CrossEntropyLoss()


def accuracy(xs, ys):
    model.eval()
    with torch.no_grad():
        hits = sum((model(xs[i:i + 500]).argmax(1) == ys[i:i + 500]).sum().item() for i in range(0, len(ys), 500))
    return hits / len(ys)


epochs = []
for epoch in range(5):
    t0 = time.perf_counter()
    model.train()
    order = torch.randperm(len(train[1]))
    for start in range(0, len(order), 64):
        idx = order[start:start + 64]
        opt.zero_grad()
        loss_fn(model(train[0][idx]), train[1][idx]).backward()
        opt.step()
    epochs.append({"epoch": epoch + 1, "seconds": time.perf_counter() - t0,
                   "validation": accuracy(*validation), "test": accuracy(*test)})
    print(json.dumps(epochs[-1]), file=sys.stderr)
print(json.dumps({"version": torch.__version__, "threads": threads, "seed": seed, "epochs": epochs}))
