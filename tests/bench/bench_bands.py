"""Benchmark: band-intervention throughput vs a bare forward pass (single thread).

    .venv/bin/python tests/bench/bench_bands.py [--images 256] [--batch 32] [--size 64] [--repeats 3]

Model: the embedded default's narrow ResNet (timm ``ResNet(BasicBlock, [1,1,1,1],
channels=(16,32,64,128), stem_width=16)``, 10 classes, random weights: speed
does not depend on training). For each layer and strategy it reports

* ``band_img_per_s``: (images × bands) / s for the 4 default bands alone
  (``controls=False``), all bands of the layer in one batched pass;
* ``ratio``: band_img_per_s / bare-forward images/s (1.0 = each band costs
  exactly one bare forward; > 1 = cheaper, which ``expand`` achieves by running
  the layers before the hooked one once for all bands);
* ``with_controls``: the same with the 3 control rows added (7 rows), as the
  pipeline runs it.

Best of ``--repeats`` timings. Writes a TSV when ``--out`` is given.
"""

from __future__ import annotations

import argparse

import pandas as pd
import torch
from timing import best_time  # noqa: E402  (tests/bench/timing.py)

from blurscope.bands import intervention as bands  # noqa: E402


def narrow_resnet() -> torch.nn.Module:
    from timm.models.resnet import BasicBlock, ResNet

    torch.manual_seed(0)
    return ResNet(BasicBlock, [1, 1, 1, 1], channels=(16, 32, 64, 128), stem_width=16, num_classes=10).eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--layers", default="layer1,layer2,layer3,layer4")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    torch.set_num_threads(1)

    model = narrow_resnet()
    x = torch.rand(args.images, 3, args.size, args.size)
    y = torch.arange(args.images) % 10
    n_bands = len(bands.DEFAULT_BAND_NAMES)

    def bare() -> None:
        with torch.inference_mode():
            for s in range(0, args.images, args.batch):
                model(x[s : s + args.batch])

    bare()  # warm-up
    t_bare = best_time(bare, args.repeats)
    bare_ips = args.images / t_bare
    print(f"bare forward: {bare_ips:.1f} img/s ({args.images} images {args.size}px, batch {args.batch}, 1 thread)")
    rows = []
    for layer in args.layers.split(","):
        for strategy in ("expand", "repeat"):
            def run(controls: bool, layer: str = layer, strategy: str = strategy) -> None:
                bands.band_logits(model, layer, x, y, batch_size=args.batch, strategy=strategy, controls=controls)

            run(False)
            t = best_time(lambda: run(False), args.repeats)
            tc = best_time(lambda: run(True), args.repeats)
            hw = bands.layer_grid_size(model, layer, x[:1])
            ips = args.images * n_bands / t
            rows.append(
                dict(
                    layer=layer,
                    map=f"{hw[0]}x{hw[1]}",
                    strategy=strategy,
                    band_img_per_s=ips,
                    ratio=ips / bare_ips,
                    rows_with_controls=n_bands + 3,
                    with_controls_row_img_per_s=args.images * (n_bands + 3) / tc,
                    with_controls_ratio=args.images * (n_bands + 3) / tc / bare_ips,
                    bare_img_per_s=bare_ips,
                )
            )
            print(
                f"{layer:8s} {hw[0]:>2}x{hw[1]:<2} {strategy:6s} "
                f"{ips:8.1f} img·band/s  ratio {ips / bare_ips:5.2f}   "
                f"(with controls: {rows[-1]['with_controls_row_img_per_s']:8.1f} img·row/s, "
                f"ratio {rows[-1]['with_controls_ratio']:5.2f})"
            )
    df = pd.DataFrame(rows)
    if args.out:
        df.to_csv(args.out, sep="\t", index=False, float_format="%.4g")


if __name__ == "__main__":
    main()
