"""Shared by the PyTorch sides of the CNN and ResNet benchmarks: timing and the workloads, with the
same names and units as the Keel side (bench/cnn.ts, bench/resnet.ts)."""
import statistics
import time

import torch
from torch import nn


def median_ms(fn, reps, warmup=1):
    """Median milliseconds of `reps` calls of fn, after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def training_figures(name, make_model, batches, samples, quick):
    """samples/s of one epoch of SGD (momentum 0.9, learning rate 0.01) over random 28×28 images."""
    figures = []
    x = torch.rand(samples, 1, 28, 28)
    y = torch.randint(0, 10, (samples,))
    for batch in batches:
        model = make_model()
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
        figures.append({"workload": f"{name} train, batch {batch}", "unit": "samples/s", "value": samples / (ms / 1000), "higherIsBetter": True})
    return figures


def prediction_figures(name, model, many, quick, one_reps):
    """µs for one image and samples/s for `many` images at once, in inference mode."""
    model = model.eval()
    one = torch.rand(1, 1, 28, 28)
    batch = torch.rand(many, 1, 28, 28)
    with torch.no_grad():
        ms_one = median_ms(lambda: model(one), one_reps, 10)
        ms_many = median_ms(lambda: model(batch), 3 if quick else 7)
    return [
        {"workload": f"{name} predict 1", "unit": "µs", "value": ms_one * 1000, "higherIsBetter": False},
        {"workload": f"{name} predict {many:,}", "unit": "samples/s", "value": many / (ms_many / 1000), "higherIsBetter": True},
    ]
