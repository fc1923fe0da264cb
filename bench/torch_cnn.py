"""PyTorch's side of the CNN benchmark (CPU): the `cnn` zoo model, channels-last input as Keel's.

Usage: /usr/bin/python3 bench/torch_cnn.py THREADS [--quick]. Prints JSON figures with the same
workload names as bench/cnn.ts. Debian's python3-torch is PyTorch 1.13 with oneDNN.
"""
import json
import sys

import torch
from torch import nn

from torch_common import prediction_figures, training_figures

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


figures = training_figures("cnn", cnn, (32, 128), 512 if quick else 2048, quick)
figures += prediction_figures("cnn", cnn(), 1000, quick, 50 if quick else 300)
print(json.dumps({"version": torch.__version__, "threads": threads, "figures": figures}))
