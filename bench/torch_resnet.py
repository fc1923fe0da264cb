"""PyTorch's side of the ResNet benchmark (CPU): the `resnet` zoo model (ResNet-20, CIFAR style,
projection shortcuts where the shape changes, as packages/keel/src/models/zooResnet.ts builds it).

Usage: /usr/bin/python3 bench/torch_resnet.py THREADS [--quick]. Prints JSON figures with the same
workload names as bench/resnet.ts.
"""
import json
import sys

import torch
from torch import nn

from torch_common import prediction_figures, training_figures



def bn(c):
    # Keras's BN defaults: epsilon 1e-3, momentum 0.99 (PyTorch's 0.01).
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), bn(cout), nn.ReLU(),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), bn(cout))
        self.shortcut = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, 0, bias=False), bn(cout))

    def forward(self, x):
        return torch.relu(self.body(x) + self.shortcut(x))


def resnet(n=3):
    layers = [nn.Conv2d(1, 16, 3, 1, 1, bias=False), bn(16), nn.ReLU()]
    cin = 16
    for stage, cout in enumerate((16, 32, 64)):
        for b in range(n):
            layers.append(Block(cin, cout, 2 if stage > 0 and b == 0 else 1))
            cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers)


if __name__ == "__main__":
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    quick = "--quick" in sys.argv
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    figures = training_figures("resnet", resnet, (64, 128), 256 if quick else 1024, quick)
    figures += prediction_figures("resnet", resnet(), 500, quick, 30 if quick else 200)
    print(json.dumps({"version": torch.__version__, "threads": threads, "figures": figures,
                      "parameters": sum(p.numel() for p in resnet().parameters())}))
