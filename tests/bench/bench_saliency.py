"""Benchmark: SmoothGrad saliency maps per second for the default model.

Compares, on the embedded default network (``blurscope.models.network.build_model
("resnet_narrow")`` = timm ``ResNet(BasicBlock, [1,1,1,1], channels=(16,32,64,128),
stem_width=16)``, 64 px, 10 classes, eval mode, blur layer removed as in the
pipeline):

* ``batched``   — :func:`blurscope.saliency.smoothgrad.smoothgrad` (all n noise samples of
  ``batch_size`` images in one forward/backward), for several batch sizes;
* ``captum``    — captum ``NoiseTunnel(Saliency)`` called on chunks of
  ``batch_size`` images (it also puts all n samples of a chunk in one pass);
* ``loop``      — ``smoothgrad_loop`` (tests/reference_impl.py), one
  forward/backward per noisy sample.

A map = one image's SmoothGrad over ``n_samples`` noisy copies. Single thread
(the machine is shared). Methods alternate within each of ``--repeats`` rounds
(after one warm-up each); medians of wall time and of this process's CPU time
are reported (CPU time is the robust number on a loaded machine).

Run: ``.venv/bin/python tests/bench/bench_saliency.py [--n-samples 50] [--images 8] [--out bench.tsv]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # tests/reference_impl.py: the captum and loop references

import pandas as pd  # noqa: E402
import torch  # noqa: E402
from reference_impl import smoothgrad_captum, smoothgrad_loop  # noqa: E402
from timing import interleaved  # noqa: E402  (tests/bench/timing.py)

from blurscope.models.network import BlurscopeNet, build_model  # noqa: E402
from blurscope.saliency import smoothgrad as S  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-samples", type=int, default=50)
    ap.add_argument("--noise-level", type=float, default=0.15)
    ap.add_argument("--images", type=int, default=8, help="images per timed run (batched/captum)")
    ap.add_argument("--loop-images", type=int, default=2, help="images per timed run (loop)")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path, default=None, help="write the table as TSV")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev = torch.device(args.device)
    model = BlurscopeNet(build_model("resnet_narrow", 10), 0.0).eval().to(dev)
    fwd = S.without_blur(model)
    x = torch.rand(args.images, 3, args.size, args.size, device=dev)
    t = torch.arange(args.images, device=dev) % 10
    n, lvl = args.n_samples, args.noise_level
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    def synced(fn):
        def run() -> None:
            fn()
            sync()

        return run

    def captum_chunks(bs: int) -> None:
        for i in range(0, args.images, bs):
            smoothgrad_captum(fwd, x[i : i + bs], t[i : i + bs], n, lvl)

    k = args.loop_images
    methods, meta = {}, {}
    for bs in args.batch_sizes:
        methods[f"batched/{bs}"] = synced(lambda bs=bs: S.smoothgrad(fwd, x, t, n, lvl, seed=0, batch_size=bs))
        meta[f"batched/{bs}"] = ("batched", bs, args.images)
        methods[f"captum/{bs}"] = synced(lambda bs=bs: captum_chunks(bs))
        meta[f"captum/{bs}"] = ("captum", bs, args.images)
    methods["loop/1"] = synced(lambda: smoothgrad_loop(fwd, x[:k], t[:k], n, lvl, seed=0))
    meta["loop/1"] = ("loop", 1, k)
    times = interleaved(methods, args.repeats)
    rows = []
    for key, (wall, cpu) in times.items():
        method, bs, images = meta[key]
        rows.append({"method": method, "batch_size": bs, "images": images, "n_samples": n, "wall_s": wall,
                     "cpu_s": cpu, "maps_per_s": images / wall, "maps_per_cpu_s": images / cpu})
        print(f"{method:8s} batch={bs:2d}  {images / wall:8.2f} maps/s (wall)  {images / cpu:8.2f} maps/CPU-s",
              flush=True)

    table = pd.DataFrame(rows)
    loop = table[table.method == "loop"].iloc[0]
    table["speedup_vs_loop"] = table.maps_per_s / loop.maps_per_s
    table["cpu_speedup_vs_loop"] = table.maps_per_cpu_s / loop.maps_per_cpu_s
    best = table[table.method == "batched"].sort_values("maps_per_cpu_s").iloc[-1]
    cap = table[(table.method == "captum") & (table.batch_size == best.batch_size)].iloc[0]
    print(f"\nmodel resnet_narrow @ {args.size}px, n_samples={n}, threads={args.threads}, device={dev}, "
          f"median of {args.repeats} interleaved rounds")
    print(f"best batched (batch_size={int(best.batch_size)}): {best.maps_per_cpu_s:.2f} maps/CPU-s "
          f"({best.maps_per_s:.2f} maps/s wall) = {best.cpu_speedup_vs_loop:.2f}x the per-sample loop in CPU time "
          f"({best.speedup_vs_loop:.2f}x wall); {best.maps_per_cpu_s / cap.maps_per_cpu_s:.2f}x captum NoiseTunnel "
          f"at the same batch size (CPU time)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, sep="\t", index=False, float_format="%.6g")


if __name__ == "__main__":
    main()
