"""Benchmark: streaming top-k extraction vs a bare forward pass (issue 4 acceptance: ratio <= 1.3).

Same model, images, batch size and uint8 -> float conversion in both; single
thread (the machine is shared). Each measurement runs in its own subprocess so
that its peak RSS (``ru_maxrss``) is its own; the peak-memory overhead of
extraction is ``peak(extract) − peak(bare)`` for the same N. Run with two
image counts to show that the overhead does not grow with N (streaming).

    .venv/bin/python tests/bench/bench_topk.py [--n 512 2048] [--arch resnet_narrow] [--size 64]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def child(args: argparse.Namespace) -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    import resource

    import numpy as np
    import torch

    from blurscope.data.files import to_float
    from blurscope.features.topk import extract_topk
    from blurscope.models.network import BlurscopeNet, build_model

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = BlurscopeNet(build_model(args.arch, 10, False), sigma_px=args.sigma_px).eval()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(args.n, args.size, args.size, 3), dtype=np.uint8)
    layers = args.layers.split(",")

    def bare() -> None:
        with torch.inference_mode():
            for s in range(0, args.n, args.batch_size):
                model(to_float(images[s : s + args.batch_size]))

    def extract() -> None:
        extract_topk(model, images, layers, k=args.k, neurons_per_layer=args.neurons, batch_size=args.batch_size)

    fn = bare if args.mode == "bare" else extract
    fn()  # warm-up (allocator, oneDNN primitives)
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"mode": args.mode, "n": args.n, "times": times, "peak_mib": peak_kib / 1024}))


def run(mode: str, n: int, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", "--mode", mode, "--n", str(n)]
    for key in ("arch", "size", "batch_size", "layers", "k", "neurons", "repeats", "sigma_px"):
        cmd += [f"--{key.replace('_', '-')}", str(getattr(args, key))]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--mode", default="extract", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, nargs="+", default=[512, 2048])
    p.add_argument("--arch", default="resnet_narrow")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--layers", default="layer2.0,layer3.0,layer4.0")
    p.add_argument("--k", type=int, default=50)
    p.add_argument("--neurons", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--sigma-px", type=float, default=0.0)
    args = p.parse_args()
    if args.child:
        args.n = args.n[0]
        child(args)
        return
    print(
        f"arch={args.arch} size={args.size}px batch={args.batch_size} layers={args.layers} "
        f"k={args.k} neurons/layer={args.neurons} threads=1 repeats={args.repeats}"
    )
    for n in args.n:
        bare, ext = run("bare", n, args), run("extract", n, args)
        tb, te = min(bare["times"]), min(ext["times"])
        print(
            f"N={n:5d}: bare {tb:7.3f} s ({n / tb:7.0f} img/s)  extract {te:7.3f} s ({n / te:7.0f} img/s)  "
            f"ratio {te / tb:5.3f}  peak RSS bare {bare['peak_mib']:7.1f} MiB  extract {ext['peak_mib']:7.1f} MiB  "
            f"overhead {ext['peak_mib'] - bare['peak_mib']:+6.1f} MiB"
        )


if __name__ == "__main__":
    main()
