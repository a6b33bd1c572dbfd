"""The simulation behind docs/statistics.md "The design": which test, how many runs, which σ levels.

Run: ``PYTHONPATH=workflow_scripts python tests/bench/statistical_design.py [--n-sim N]``.
Prints the tables of docs/statistics.md: (1) size of each candidate test under the null,
equal and unequal between-run variances; (2) power of each candidate at the smallest Holm
threshold α/m (m = the primary family's size) for effects d = δ/τ (true σ max − σ 0
difference over the between-run sd), linear and saturating in σ; (3) power and coverage of
the chosen test (:func:`blurscope.stats.runs.simulate_design`) for the candidate designs
at the effects measured on the embedded default (the run-level values in docs/statistics.md).

The candidates (only the chosen one lives in the library; these are reference code):

* ``contrast`` — σ max vs σ min, variance pooled over all levels, t with n − S df (chosen);
* ``regression`` — OLS slope of run values on σ, t with n − 2 df;
* ``welch`` — σ max vs σ min runs only, Welch t;
* ``permutation`` — |OLS slope| against all distinct relabellings of the runs' σ (exact).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
from pathlib import Path

import numpy as np
from scipy import stats as sps

from blurscope.stats.runs import simulate_design

ALPHA = 0.05


def _design(levels: list[float], runs: int) -> np.ndarray:
    return np.repeat(np.asarray(levels, dtype=float), runs)


def _draw(rng: np.random.Generator, x: np.ndarray, d: float, shape: str, sd: np.ndarray, n: int) -> np.ndarray:
    rel = (x - x.min()) / (x.max() - x.min())
    if shape == "saturating":  # reaches 80 % of its full size at mid-range: 1 − exp(−k rel), normalised
        rel = (1 - np.exp(-3.2 * rel)) / (1 - np.exp(-3.2))
    return d * rel + sd * rng.standard_normal((n, x.size))


def p_contrast(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    levels = np.unique(x)
    df = x.size - levels.size
    means = {s: y[:, x == s].mean(axis=1) for s in levels}
    ss = sum(((y[:, x == s] - means[s][:, None]) ** 2).sum(axis=1) for s in levels)
    n0, n1 = (x == levels[0]).sum(), (x == levels[-1]).sum()
    se = np.sqrt(ss / df * (1 / n0 + 1 / n1))
    return 2 * sps.t.sf(np.abs((means[levels[-1]] - means[levels[0]]) / se), df)


def p_regression(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xc = x - x.mean()
    sxx = (xc**2).sum()
    b = (y - y.mean(axis=1, keepdims=True)) @ xc / sxx
    resid = y - y.mean(axis=1, keepdims=True) - b[:, None] * xc
    se = np.sqrt((resid**2).sum(axis=1) / (x.size - 2) / sxx)
    return 2 * sps.t.sf(np.abs(b / se), x.size - 2)


def p_welch(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    a, b = y[:, x == x.min()], y[:, x == x.max()]
    return sps.ttest_ind(b, a, axis=1, equal_var=False).pvalue


def _relabellings(x: np.ndarray, limit: int = 2000) -> np.ndarray:
    """Every distinct relabelling of the runs' σ (multiset permutations), or ``limit`` random ones."""
    if n_relabellings(x) <= limit:
        out = [[]]
        for s in np.unique(x):  # place each level's runs on the free positions
            k = int((x == s).sum())
            nxt = []
            for partial in out:
                free = [i for i in range(x.size) if i not in {j for j, _ in partial}]
                nxt += [partial + [(i, s) for i in c] for c in itertools.combinations(free, k)]
            out = nxt
        table = np.empty((len(out), x.size))
        for r, placed in enumerate(out):
            for i, s in placed:
                table[r, i] = s
        return table
    rng = np.random.default_rng(1)
    return np.array([rng.permutation(x) for _ in range(limit)])


def n_relabellings(x: np.ndarray) -> int:
    return math.factorial(x.size) // math.prod(math.factorial(int((x == s).sum())) for s in np.unique(x))


def p_permutation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    perms = _relabellings(x)
    xc = perms - perms.mean(axis=1, keepdims=True)
    stat = np.abs((y - y.mean(axis=1, keepdims=True)) @ xc.T)  # [n, P]: |slope| up to a constant
    obs = np.abs((y - y.mean(axis=1, keepdims=True)) @ (x - x.mean()))
    return (stat >= obs[:, None] - 1e-12).mean(axis=1)


TESTS = {"contrast": p_contrast, "regression": p_regression, "welch": p_welch, "permutation": p_permutation}
DESIGNS = {
    "{0,6} x 3": ([0, 6], 3),
    "{0,6} x 4": ([0, 6], 4),
    "{0,3,6} x 3": ([0, 3, 6], 3),
    "{0,2,4,6} x 3": ([0, 2, 4, 6], 3),
    "{0,3,6} x 4": ([0, 3, 6], 4),
    "{0,3,6} x 6": ([0, 3, 6], 6),
    "{0,3,6} x 10": ([0, 3, 6], 10),
}


def candidate_tables(n_sim: int, family: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    print(f"## size at alpha = {ALPHA} (null; unequal: sd at sigma max twice that at sigma 0)")
    print("| design | " + " | ".join(f"{t} equal / unequal" for t in TESTS) + " |")
    for name, (levels, runs) in DESIGNS.items():
        x = _design(levels, runs)
        cells = []
        for test in TESTS.values():
            eq = (test(x, _draw(rng, x, 0.0, "linear", np.ones(x.size), n_sim)) < ALPHA).mean()
            sd = 1 + (x - x.min()) / (x.max() - x.min())
            un = (test(x, _draw(rng, x, 0.0, "linear", sd, n_sim)) < ALPHA).mean()
            cells.append(f"{eq:.3f} / {un:.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    for shape in ("linear", "saturating"):
        print(f"\n## power at alpha/{family} = {ALPHA / family:.4f}, {shape} effect")
        print("| design | d | " + " | ".join(TESTS) + " | smallest p reachable (permutation) |")
        for name, (levels, runs) in DESIGNS.items():
            x = _design(levels, runs)
            n_perm = n_relabellings(x)
            for d in (2.0, 3.0, 4.0, 5.0):
                y = _draw(rng, x, d, shape, np.ones(x.size), n_sim)
                cells = [f"{(t(x, y) < ALPHA / family).mean():.2f}" for t in TESTS.values()]
                print(f"| {name} | {d:g} | " + " | ".join(cells) + f" | {2 / n_perm:.2g} |")


# effects measured on the embedded default (docs/statistics.md, "What was measured"): (δ, τ) per primary row —
# δ = mean of the σ 6 runs − mean of the σ 0 runs (run = mean over its neurons / renders), τ = pooled between-run sd
# at a fixed σ (df 6); from the default `make run` of this release (3 runs each of σ 0, 3, 6; the render that can
# express frequencies near Nyquist), results/stats/patch_runs.tsv and results/featvis/runs.tsv; the numbers are
# in tests/bench/measured_effects.tsv (row, delta, tau)
MEASURED: dict[str, tuple[float, float]] = {
    r["row"]: (float(r["delta"]), float(r["tau"]))
    for r in csv.DictReader((Path(__file__).parent / "measured_effects.tsv").open(), delimiter="\t")
}


def family_power(levels: list[float], runs: int, measured: dict[str, tuple[float, float]], n_sim: int,
                 family: int, seed: int = 3) -> dict[str, float]:
    """Per-row power after Holm over the whole primary family (rows independent; rows not in ``measured``
    have no effect), at the chosen test."""
    rng = np.random.default_rng(seed)
    x = _design(levels, runs)
    ps, names = [], list(measured) + [f"null {k}" for k in range(family - len(measured))]
    for name in names:
        delta, tau = measured.get(name, (0.0, 1.0))
        y = _draw(rng, x, abs(delta) / tau, "linear", np.ones(x.size), n_sim)
        ps.append(p_contrast(x, y))
    p = np.stack(ps, axis=1)  # [n_sim, family]
    order = np.argsort(p, axis=1)
    sorted_p = np.take_along_axis(p, order, axis=1)
    adj = np.maximum.accumulate(sorted_p * (family - np.arange(family)), axis=1)
    rej_sorted = adj < ALPHA
    rej = np.empty_like(rej_sorted)
    np.put_along_axis(rej, order, rej_sorted, axis=1)
    return {n: float(rej[:, i].mean()) for i, n in enumerate(names) if n in measured}


def chosen_tables(n_sim: int, family: int, measured: dict[str, tuple[float, float]]) -> None:
    print(f"\n## chosen test (contrast), power at the Holm floor alpha/{family} and coverage of the 95 % interval")
    print("| design | d = 1 | d = 2 | d = 3 | d = 4 | d = 5 | d = 6 | size (alpha) | coverage (null) "
          "| coverage (d = 3) |")
    for name, (levels, runs) in DESIGNS.items():
        res = simulate_design(levels, runs, [1, 2, 3, 4, 5, 6], 1.0, n_sim=n_sim, family_size=family)
        null = simulate_design(levels, runs, 0.0, 1.0, n_sim=n_sim, seed=1)
        three = simulate_design(levels, runs, 3.0, 1.0, n_sim=n_sim, seed=2)
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in res["reject"])
              + f" | {null['reject_alpha']:.3f} | {null['coverage']:.3f} | {three['coverage']:.3f} |")
    if measured:
        print(f"\n## measured effects: per-row power after Holm over the family of {family} (other rows null)")
        print("| row | d | " + " | ".join(DESIGNS) + " |")
        per = {name: family_power(levels, runs, measured, n_sim, family) for name, (levels, runs) in DESIGNS.items()}
        for row, (delta, tau) in measured.items():
            print(f"| {row} | {abs(delta) / tau:.1f} | " + " | ".join(f"{per[d][row]:.2f}" for d in DESIGNS) + " |")
        print("\n## measured effects: power per primary row (alpha/m) for each design")
        print("| row | delta | tau | d | " + " | ".join(DESIGNS) + " |")
        for row, (delta, tau) in measured.items():
            cells = []
            for levels, runs in DESIGNS.values():
                res = simulate_design(levels, runs, abs(delta), tau, n_sim=n_sim, family_size=family)
                cells.append(f"{res['reject']:.2f}")
            print(f"| {row} | {delta:.3g} | {tau:.2g} | {abs(delta) / tau:.1f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-sim", type=int, default=20000)
    ap.add_argument("--family", type=int, default=12, help="primary family size m (4 measures x 3 layers)")
    ap.add_argument("--skip-candidates", action="store_true")
    args = ap.parse_args()
    if not args.skip_candidates:
        candidate_tables(args.n_sim, args.family)
    chosen_tables(args.n_sim, args.family, MEASURED)
    print(f"\n(n_sim = {args.n_sim}; Monte-Carlo SE of a rate r: sqrt(r(1-r)/n_sim) = "
          f"{math.sqrt(0.05 * 0.95 / args.n_sim):.4f} at 0.05)")
