"""Benchmark of the patch-statistics library (prints numbers, asserts nothing).

Run: ``.venv/bin/python tests/bench/bench_stats.py`` (single thread, so it can run
beside other work on a 2-core machine).

* neuron bootstrap of 2048 neurons × 16 patches × 9 metrics × 1000 iterations
  (seconds), against a Python loop over iterations with fancy indexing (ratio);
* the same for spectra (2048 × 16 × 32 bins);
* the Spearman trend (paired, 8 σ × 2048 neurons), the hierarchical bootstrap of two
  replicates, the default trend over 7 models with its CI, and one AVR–SIS correlation;
* complexity_metrics throughput (patches/s) at 18 px (embedded default) and 64 px
  (ImageNet VITAL windows), with the JPEG share (scan data counted: the default);
* radial spectrum throughput (patches/s) at the same sizes, with the default Hann
  window and without a window.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


import numpy as np  # noqa: E402
import torch  # noqa: E402
from timing import best_time  # noqa: E402  (tests/bench/timing.py)

from blurscope import complexity, stats  # noqa: E402
from blurscope.spectra import spectrum as spectra  # noqa: E402

torch.set_num_threads(1)


def _loop_bootstrap(values: np.ndarray, iterations: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = values.shape[0]
    means = values.mean(axis=1)
    return np.stack([means[rng.integers(0, n, n)].mean(axis=0) for _ in range(iterations)])


def bench_bootstrap() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(2048, 16, 9))
    t = best_time(lambda: stats.neuron_bootstrap(values, 1000, seed=0))
    t_loop = best_time(lambda: _loop_bootstrap(values, 1000, seed=0), repeats=1)
    print(f"bootstrap 2048 neurons x 16 patches x 9 metrics x 1000 it: {t:.3f} s "
          f"(python loop over iterations: {t_loop:.3f} s, ratio loop/vectorised {t_loop / t:.1f}x)")
    spec = rng.gamma(2.0, size=(2048, 16, 32))
    t = best_time(lambda: stats.neuron_bootstrap(spec, 1000, seed=0))
    print(f"bootstrap 2048 neurons x 16 patches x 32 spectrum bins x 1000 it: {t:.3f} s")
    y = rng.normal(size=(8, 2048))
    t = best_time(lambda: stats.spearman_trend(np.arange(8), y, 10000, seed=0, paired=True), repeats=1)
    print(f"spearman trend 8 sigma x 2048 neurons, 10000 paired permutations: {t:.3f} s")
    reps = [rng.normal(size=(64, 16, 9)) for _ in range(2)]
    t = best_time(lambda: stats.hierarchical_bootstrap(reps, 1000, seed=0))
    t_one = best_time(lambda: stats.neuron_bootstrap(reps[0], 1000, seed=0))
    print(f"hierarchical bootstrap 2 replicates x 64 neurons x 16 patches x 9 metrics x 1000 it: {t:.4f} s "
          f"(one replicate: {t_one:.4f} s)")
    sig = np.array([0, 0, 2, 3, 4, 6, 6], dtype=float)  # the default: replicates at sigma 0 and 6
    vals = list(rng.normal(size=(7, 64)))
    t = best_time(lambda: stats.spearman_trend(sig, vals, 10000, seed=0, paired=False, iterations=1000), repeats=1)
    print(f"spearman trend 7 models x 64 neurons, exact model-level p (7! orders) + 1000-resample CI of rho: "
          f"{t:.3f} s")
    x = rng.random(1000)
    t = best_time(lambda: stats.correlation(x, x + rng.normal(size=1000), 1000, 1000, seed=0), repeats=1)
    print(f"correlation of 1000 images, 1000 bootstrap + 1000 permutations: {t:.3f} s")


def bench_complexity_and_spectra() -> None:
    rng = np.random.default_rng(1)
    for size, n in ((18, 4096), (64, 1024)):
        patches = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
        t_all = best_time(lambda p=patches: complexity.complexity_metrics(p), repeats=2)
        t_jpeg = best_time(lambda p=patches: complexity.jpeg_compression_ratio(p), repeats=2)
        t_spec = best_time(lambda p=patches, b=size // 2: spectra.patch_spectra(p, b, hf_cutoff=0.25, window="hann"),
                       repeats=2)
        t_none = best_time(lambda p=patches, b=size // 2: spectra.patch_spectra(p, b, hf_cutoff=0.25, window="none"),
                       repeats=2)
        levels = int(complexity.complexity_metrics(patches[:1])["wavelet_levels"][0])
        print(f"complexity {size}x{size}: {n / t_all:,.0f} patches/s (JPEG alone {n / t_jpeg:,.0f} patches/s, "
              f"{100 * t_jpeg / t_all:.0f} % of the time; {levels} wavelet level(s))")
        print(f"spectra    {size}x{size}: {n / t_spec:,.0f} patches/s (radial spectrum + HF fraction; "
              f"without the window {n / t_none:,.0f} patches/s)")


if __name__ == "__main__":
    print(f"numpy {np.__version__}, threads=1")
    bench_bootstrap()
    bench_complexity_and_spectra()
