"""Corruption names and the parse-time checks of the ``frequency.corruption*`` / ``mce_*`` keys.

Pure Python (no numpy/torch), so the workflow can check these keys every time it is
parsed at no cost; :mod:`blurscope.frequency.corruptions` holds the corruptions themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

SEVERITIES = (1, 2, 3, 4, 5)

IMAGENET_C = (
    "gaussian_noise", "shot_noise", "impulse_noise",
    "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
    "snow", "frost", "fog", "brightness",
    "contrast", "elastic_transform", "pixelate", "jpeg_compression",
)
"""The 15 ImageNet-C corruption types (Hendrycks & Dietterich 2019), in the paper's order."""

EXTRAS = ("speckle_noise", "gaussian_blur", "highpass_noise")
"""Further corruptions: ImageNet-C's held-out speckle noise and Gaussian blur, and
``highpass_noise`` (noise above half Nyquist). Reported, never part of mCE."""

ALL = IMAGENET_C + EXTRAS

PUBLISHED = "published"
"""``frequency.mce_reference`` value that normalises by ``frequency.mce_reference_errors``."""


def check_names(names: Sequence[str], severities: Sequence[int]) -> None:
    """Raise ``ValueError`` naming the config key for unknown corruptions or severities."""
    bad = [n for n in names if n not in ALL]
    if bad:
        raise ValueError(f"config key 'frequency.corruptions': unknown corruption(s) {bad}; allowed: {list(ALL)}")
    bad_s = [s for s in severities if s not in SEVERITIES]
    if bad_s:
        raise ValueError(f"config key 'frequency.severities': severities must be in {list(SEVERITIES)}, got {bad_s}")


def check_reference(
    reference: str, errors: Mapping[str, float] | None, names: Sequence[str], severities: Sequence[int],
    models: Sequence[str],
) -> None:
    """Check ``frequency.mce_reference`` / ``frequency.mce_reference_errors``.

    ``reference`` is a trained model id, or ``published`` to normalise by ``errors``
    (type → top-1 error in (0, 1], the mean over severities 1–5, plus ``clean``).

    Raises:
        ValueError: naming the key.
    """
    if reference != PUBLISHED:
        if reference not in models:
            raise ValueError(f"config key 'frequency.mce_reference': {reference!r} is not a trained model "
                             f"(models: {list(models)}; or '{PUBLISHED}' with frequency.mce_reference_errors)")
        return
    if not errors:
        raise ValueError(f"config key 'frequency.mce_reference_errors': required when "
                         f"frequency.mce_reference is '{PUBLISHED}'")
    missing = [n for n in [*names, "clean"] if n not in errors]
    if missing:
        raise ValueError(f"config key 'frequency.mce_reference_errors': lacks {missing} "
                         f"(one error per configured corruption, plus 'clean')")
    bad = {k: v for k, v in errors.items() if not 0 < float(v) <= 1}
    if bad:
        raise ValueError(f"config key 'frequency.mce_reference_errors': errors must be in (0, 1], got {bad}")
    if sorted(int(s) for s in severities) != list(SEVERITIES):
        raise ValueError(f"config key 'frequency.severities': must be all of {list(SEVERITIES)} when "
                         f"frequency.mce_reference is '{PUBLISHED}' (published errors average all five), "
                         f"got {list(severities)}")


def check_config(freq: Mapping[str, Any], models: Sequence[str]) -> None:
    """All corruption checks of the ``frequency`` section (called when the workflow is parsed)."""
    check_names(list(freq["corruptions"]), [int(s) for s in freq["severities"]])
    check_reference(freq["mce_reference"], freq.get("mce_reference_errors"), list(freq["corruptions"]),
                    [int(s) for s in freq["severities"]], models)
