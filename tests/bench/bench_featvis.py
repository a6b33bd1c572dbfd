"""Benchmark: feature visualisation of one model (rule featvis) vs one bare forward+backward.

The embedded default's narrow ResNet (``build_model("resnet_narrow", 10)`` in a
``BlurscopeNet``; untrained weights cost the same as trained ones), every analysed
layer (config ``analysis.layers``) × the grid's neurons (``patches.grid_neurons``
of the ``topk.neurons_per_layer`` sampled channels, :func:`blurscope.featvis.optimise.grid_channels`),
rendered exactly as the rule does: one :func:`blurscope.featvis.optimise.render` call per layer,
all its neurons in one batch. Single thread (the machine is shared).

Printed per layer: seconds of the render, seconds per optimisation step, and the
ratio of one step to one bare forward+backward (gradient w.r.t. the input only,
the whole network, same batch and canvas size); then the wall and CPU seconds per
model (all layers) against the rule budget.

    .venv/bin/python tests/bench/bench_featvis.py [--size 64] [--steps 128] [--repeats 2] [--p-scale-rotate 0.5]

A step costs the same with or without scale and rotation (the same resampling runs with
scale 1 and angle 0), so ``--p-scale-rotate`` does not change the cost; it is there to show it.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

from blurscope.featvis import optimise as featvis
from blurscope.models.network import BlurscopeNet, build_model

BUDGET_S = 20.0
"""Per-model budget of the featvis rule on one thread (issue 21 / the pipeline's 10-minute budget)."""


def bare_step(model: torch.nn.Module, batch: int, canvas: int, repeats: int) -> float:
    """Seconds of one forward+backward of the whole network (gradient w.r.t. the input), best of ``repeats``."""
    x = torch.rand(batch, 3, canvas, canvas, generator=torch.Generator().manual_seed(0))
    times = []
    for _ in range(repeats + 1):  # first = warm-up
        xi = x.clone().requires_grad_(True)
        t0 = time.perf_counter()
        torch.autograd.grad(model(xi).sum(), [xi])
        times.append(time.perf_counter() - t0)
    return min(times[1:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=64, help="featvis.size (px)")
    p.add_argument("--steps", type=int, default=128, help="featvis.steps")
    p.add_argument("--layers", default="layer2.0,layer3.0,layer4.0", help="analysis.layers")
    p.add_argument("--grid-neurons", type=int, default=12, help="patches.grid_neurons")
    p.add_argument("--neurons-per-layer", type=int, default=64, help="topk.neurons_per_layer")
    p.add_argument("--pad", type=int, default=featvis.Transforms().pad, help="featvis.transforms.pad (px)")
    p.add_argument("--p-scale-rotate", type=float, default=featvis.Transforms().p_scale_rotate,
                   help="featvis.transforms.p_scale_rotate (1 = scale and rotate in every step, as Lucent)")
    p.add_argument("--repeats", type=int, default=2, help="renders timed per layer (best reported)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = BlurscopeNet(build_model("resnet_narrow", 10), sigma_px=0.0).eval()
    tf = featvis.Transforms(pad=args.pad, p_scale_rotate=args.p_scale_rotate)
    canvas = args.size + 2 * tf.pad
    print(f"narrow ResNet (untrained), size {args.size} px (canvas {canvas} px), {args.steps} steps, "
          f"{args.grid_neurons} neurons/layer, p_scale_rotate {tf.p_scale_rotate:g}, threads={args.threads}, "
          f"best of {args.repeats}")
    total = total_cpu = 0.0
    for layer in args.layers.split(","):
        n_ch = featvis.layer_channels(model, layer, canvas)
        channels = featvis.grid_channels(n_ch, args.neurons_per_layer, args.grid_neurons).tolist()
        featvis.render(model, layer, channels, args.size, 2, 0, transforms=tf)  # warm-up
        times, cpu = [], []
        for _ in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            featvis.render(model, layer, channels, args.size, args.steps, 0, transforms=tf)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        t = min(times)
        total += t
        total_cpu += min(cpu)
        bare = bare_step(model, len(channels), canvas, 3)
        per_step = t / max(1, args.steps)
        print(f"{layer:9s} {len(channels):3d} neurons: render {t:6.2f} s  {1000 * per_step:6.2f} ms/step  "
              f"bare fwd+bwd {1000 * bare:6.2f} ms  step/bare {per_step / bare:5.2f}  "
              f"render/bare {t / bare:7.1f}")
    verdict = "within" if total <= BUDGET_S else "OVER"
    print(f"seconds per model (all layers): {total:.2f} s wall, {total_cpu:.2f} s CPU "
          f"({verdict} the {BUDGET_S:g} s budget; wall time grows with the load of a shared machine)")


if __name__ == "__main__":
    main()
