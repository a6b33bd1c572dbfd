"""Benchmark of the frequency-preference analyses on one CPU thread.

Run: ``.venv/bin/python tests/bench/bench_frequency.py [--size 64] [--out bench.json]``

Measures, on the embedded default's narrow ResNet (untrained; speed does not
depend on the weights) at ``--size`` px:

* bare forward throughput (images/s) — the reference;
* hybrid sweep throughput (hybrids/s, through the model) and its ratio to the bare forward,
  i.e. the cost of building hybrids (rFFT, mask, irFFT) on the fly;
* hybrid construction alone (hybrids/s, no model);
* PGD time per image (``--pgd-steps`` steps, L2) and the radial power profile time;
* each corruption alone (images/s, severity 3).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from timing import best_time  # noqa: E402  (tests/bench/timing.py)

from blurscope import corruptions, frequency  # noqa: E402
from blurscope.blur import sigma_to_px  # noqa: E402
from blurscope.models import BlurscopeNet, build_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--n-images", type=int, default=64)
    ap.add_argument("--n-f", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--pgd-steps", type=int, default=10)
    ap.add_argument("--sigma", type=float, default=2.0, help="blur layer σ (px at 224)")
    ap.add_argument("--out", type=Path, default=None, help="write results as JSON")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)

    n, s = args.n_images, args.size
    model = BlurscopeNet(build_model("resnet_narrow", 10), sigma_to_px(args.sigma, s)).eval()
    g = torch.Generator().manual_seed(0)
    images = torch.rand(n, 3, s, s, generator=g)
    labels = np.arange(n) % 10
    res: dict[str, float] = {"size": s, "threads": 1, "n_images": n}

    with torch.no_grad():
        t = best_time(lambda: [model(images[i : i + args.batch_size]) for i in range(0, n, args.batch_size)])
    res["forward_images_per_s"] = n / t

    lo, hi = frequency.make_pairs(labels, n, seed=0)
    f = frequency.f_mix_grid(args.n_f)
    t = best_time(lambda: frequency.hybrid_predictions(model, images, lo, hi, f, args.batch_size))
    res["hybrid_sweep_hybrids_per_s"] = n * args.n_f / t
    res["hybrid_sweep_ratio_to_forward"] = res["hybrid_sweep_hybrids_per_s"] / res["forward_images_per_s"]
    t = best_time(lambda: frequency.hybrid_images(images[lo], images[hi], f))
    res["hybrid_build_hybrids_per_s"] = n * args.n_f / t

    y = torch.as_tensor(labels)
    m = min(n, 32)
    deltas = {}

    def pgd() -> None:
        deltas["d"] = frequency.pgd_perturbations(model, images[:m], y[:m], 0.01, args.pgd_steps, 0.0025, "l2")[0]

    t = best_time(pgd, repeats=2)
    res["pgd_steps"] = args.pgd_steps
    res["pgd_ms_per_image"] = 1000 * t / m
    t = best_time(lambda: frequency.radial_power_profile(deltas["d"]))
    res["radial_profile_ms_per_image"] = 1000 * t / m

    images_u8 = (images.permute(0, 2, 3, 1).numpy() * 255).round().astype("uint8")
    for name in corruptions.ALL:
        t = best_time(lambda name=name: corruptions.corrupt_images(images_u8, name, 3, seed=0))
        res[f"corrupt_{name}_images_per_s"] = n / t

    width = max(len(k) for k in res)
    for k, v in res.items():
        print(f"{k:<{width}}  {v:,.4g}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    if args.out:
        args.out.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
