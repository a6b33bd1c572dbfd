"""Model ids: the one grammar of the names of the networks blurscope trains and analyses.

=========================  ============================================================
id                         network
=========================  ============================================================
``sigma<σ>``               the first training run at blur σ (px at 224 px, written ``f"{σ:g}"``:
                           ``sigma0``, ``sigma0.5``, ``sigma6``)
``sigma<σ>-seed<k>``       training replicate ``k ≥ 1`` of σ (its own seed)
``blurpool``               the anti-aliased (BlurPool) network, trained at σ 0
``blurpool-seed<k>``       BlurPool replicate ``k``
``ref-sigma<σ>``           filter-only reference: the σ 0 network (``sigma0``) behind the blur of σ,
                           untrained for it
``ref-sigma<σ>-seed<k>``   the same on σ 0 run ``k`` (``sigma0-seed<k>``)
``baseline``               the spectra stage's pseudo-model: random patches of the analysis images
=========================  ============================================================

:class:`ModelId` parses and formats these ids and answers every question the workflow asks of
one: its σ, replicate index, group (the condition a replicate belongs to), kind, display label,
sort position and, for a reference, the σ 0 run it is built on. Whether a model was trained
elsewhere (``model.checkpoints``) is a property of a config, not of the id:
:meth:`blurscope.config.ModelIds.kind` says it. Importing this module imports nothing heavy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

SIGMA = "sigma"
"""Family of the σ series (``sigma<σ>[-seed<k>]``)."""
BLURPOOL = "blurpool"
"""Family and id of the anti-aliased network (``blurpool[-seed<k>]``)."""
REFERENCE = "reference"
"""Family of the filter-only references (``ref-sigma<σ>[-seed<k>]``)."""
BASELINE = "baseline"
"""Family and id of the spectra stage's random-patch pseudo-model."""

TRAINED, REPLICATE, CHECKPOINT = "trained", "replicate", "checkpoint"
KINDS = (TRAINED, REPLICATE, BLURPOOL, REFERENCE, CHECKPOINT, BASELINE)
"""Model kinds: the first run of a σ, a further run of a σ, a BlurPool run (first or replicate), a
filter-only reference, a model trained elsewhere (config ``model.checkpoints``), the baseline."""

_REF = "ref-"
_SEED = "-seed"
_POSITIVE = r"0\.[0-9]*[1-9]|[1-9][0-9]*(?:\.[0-9]*[1-9])?"  # a σ > 0 as f"{σ:g}" writes it
_NUMBER = rf"(?:0|{_POSITIVE})"
_INDEX = r"[1-9][0-9]*"
_GRAMMAR = re.compile(
    rf"(?P<ref>{re.escape(_REF)})?{SIGMA}(?P<sigma>{_NUMBER})(?:{_SEED}(?P<seed>{_INDEX}))?"
    rf"|{BLURPOOL}(?:{_SEED}(?P<bpseed>{_INDEX}))?"
    rf"|(?P<baseline>{BASELINE})"
)
_SEED_SUFFIX = re.compile(rf"(?:{_SEED}(?P<seed>{_INDEX}))?")

POSITIVE_SIGMA_WILDCARD = rf"(?:{_POSITIVE})"
"""Regular expression of a σ > 0 as written in ids (``0.5``, ``2``, ``10``; not ``2.0`` or ``0``)."""
SEED_SUFFIX_WILDCARD = rf"(?:{_SEED}{_INDEX})?"
"""Regular expression of a replicate suffix: empty (the first run) or ``-seed<k>`` with ``k ≥ 1``."""
TRAINED_WILDCARD = rf"{SIGMA}{_NUMBER}(?:{_SEED}{_INDEX})?|{BLURPOOL}(?:{_SEED}{_INDEX})?"
"""Regular expression of the ids of trained networks (σ series, replicates, BlurPool)."""
WILDCARD = rf"{TRAINED_WILDCARD}|{re.escape(_REF)}{SIGMA}{_NUMBER}(?:{_SEED}{_INDEX})?"
"""Regular expression of every analysable model id: trained networks and filter-only references."""


def fmt_sigma(sigma: float) -> str:
    """σ as written in model ids and tables: ``0``, ``0.5``, ``1``, ``1.5`` …"""
    return f"{float(sigma):g}"


@dataclass(frozen=True)
class ModelId:
    """One model id (see the module docstring for the grammar).

    ``family`` is one of :data:`SIGMA`, :data:`BLURPOOL`, :data:`REFERENCE`, :data:`BASELINE`;
    ``sigma`` the training σ in px at 224 px (a reference: the σ of the blur in front of it;
    BlurPool: 0; the baseline: None); ``seed`` the replicate index (a reference: the index of the
    σ 0 run it is built on; 0 = the first run). ``str(mid)`` formats it.
    """

    family: str
    sigma: float | None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.family not in (SIGMA, BLURPOOL, REFERENCE, BASELINE):
            raise ValueError(f"model id family must be one of {SIGMA}, {BLURPOOL}, {REFERENCE}, {BASELINE}; "
                             f"got {self.family!r}")
        if int(self.seed) < 0 or (self.family == BASELINE and self.seed):
            raise ValueError(f"model id seed index must be >= 0 (0 for {BASELINE}), got {self.seed}")
        sigma = None if self.sigma is None else float(self.sigma)
        if (sigma is None) != (self.family == BASELINE) or (sigma is not None and not sigma >= 0):
            raise ValueError(f"model id σ must be a number >= 0 (None for {BASELINE} only), got {self.sigma!r}")
        object.__setattr__(self, "sigma", sigma)
        object.__setattr__(self, "seed", int(self.seed))

    # ---- construction
    @classmethod
    def trained(cls, sigma: float, seed: int = 0) -> ModelId:
        """``sigma<σ>`` (``seed`` 0) or its replicate ``sigma<σ>-seed<k>``."""
        return cls(SIGMA, sigma, seed)

    @classmethod
    def blurpool(cls, seed: int = 0) -> ModelId:
        """``blurpool`` or its replicate ``blurpool-seed<k>``."""
        return cls(BLURPOOL, 0.0, seed)

    @classmethod
    def reference(cls, sigma: float, seed: int = 0) -> ModelId:
        """``ref-sigma<σ>``: σ 0 run ``seed`` behind the blur of σ."""
        return cls(REFERENCE, sigma, seed)

    @classmethod
    def baseline(cls) -> ModelId:
        """The spectra stage's random-patch pseudo-model ``baseline``."""
        return cls(BASELINE, None)

    @classmethod
    def parse(cls, text: object) -> ModelId:
        """The id written as ``text``.

        Raises:
            ValueError: ``text`` is outside the grammar (σ is written as ``f"{σ:g}"``: ``sigma2``, never
                ``sigma2.0``); the message names the id and the grammar.
        """
        s = str(text)
        m = _GRAMMAR.fullmatch(s)
        if m is None:
            raise ValueError(
                f"model id {s!r} is not one of sigma<σ>, sigma<σ>-seed<k>, {BLURPOOL}, {BLURPOOL}-seed<k>, "
                f"{_REF}sigma<σ>, {_REF}sigma<σ>-seed<k>, {BASELINE} (σ in px at 224 px as f'{{σ:g}}' writes it, "
                "k >= 1)"
            )
        if m["baseline"]:
            return cls.baseline()
        if m["sigma"] is None:
            return cls.blurpool(int(m["bpseed"] or 0))
        return cls(REFERENCE if m["ref"] else SIGMA, float(m["sigma"]), int(m["seed"] or 0))

    @classmethod
    def try_parse(cls, text: object) -> ModelId | None:
        """:meth:`parse`, or None for a string outside the grammar."""
        try:
            return cls.parse(text)
        except ValueError:
            return None

    # ---- formatting
    def __str__(self) -> str:
        if self.family == BASELINE:
            return BASELINE
        base = BLURPOOL if self.family == BLURPOOL else f"{SIGMA}{fmt_sigma(self.sigma)}"
        if self.family == REFERENCE:
            base = _REF + base
        return base if self.seed == 0 else f"{base}{_SEED}{self.seed}"

    @property
    def label(self) -> str:
        """The display label, the same in figures and report: ``sigma2`` → ``σ = 2``, ``sigma2-seed1`` →
        ``σ = 2 (seed 1)``, ``blurpool-seed2`` → ``BlurPool (seed 2)``, ``ref-sigma6-seed1`` →
        ``reference σ = 6 (σ = 0 network behind the blur, σ 0 run 1)``, ``baseline`` → ``random patches``."""
        if self.family == BASELINE:
            return "random patches"
        seed = f" (seed {self.seed})" if self.seed else ""
        if self.family == BLURPOOL:
            return f"BlurPool{seed}"
        if self.family == SIGMA:
            return f"σ = {fmt_sigma(self.sigma)}{seed}"
        run = f", σ 0 run {self.seed}" if self.seed else ""
        return f"reference σ = {fmt_sigma(self.sigma)} (σ = 0 network behind the blur{run})"

    @property
    def sort_key(self) -> tuple[int, float, int]:
        """Order of models in tables and figures: the σ series by σ (each first run before its
        replicates), then BlurPool runs, then the references by σ, then the baseline."""
        rank = {SIGMA: 0, BLURPOOL: 1, REFERENCE: 2, BASELINE: 3}[self.family]
        return (rank, 0.0 if self.sigma is None else self.sigma, self.seed)

    # ---- properties
    @property
    def kind(self) -> str:
        """:data:`TRAINED` (first run of a σ), :data:`REPLICATE` (a further run of a σ), :data:`BLURPOOL`
        (any BlurPool run), :data:`REFERENCE` or :data:`BASELINE`. Checkpoint models are a config's
        (:meth:`blurscope.config.ModelIds.kind`)."""
        if self.family == SIGMA:
            return REPLICATE if self.seed else TRAINED
        return self.family

    @property
    def is_reference(self) -> bool:
        """Whether this is a filter-only reference (``ref-sigma<σ>[-seed<k>]``)."""
        return self.family == REFERENCE

    @property
    def is_blurpool(self) -> bool:
        """Whether this is a BlurPool run (``blurpool[-seed<k>]``)."""
        return self.family == BLURPOOL

    @property
    def group(self) -> ModelId:
        """The condition a replicate belongs to: the same id with seed 0 (``sigma6-seed1`` → ``sigma6``,
        ``ref-sigma6-seed1`` → ``ref-sigma6``)."""
        return ModelId(self.family, self.sigma, 0)

    def replicate(self, seed: int) -> ModelId:
        """Run ``seed`` of the same condition (``blurpool`` → ``blurpool-seed<k>``; 0: the first run)."""
        return ModelId(self.family, self.sigma, seed)

    @property
    def network(self) -> ModelId:
        """The trained network whose weights this model uses: a reference's σ 0 run
        (``ref-sigma6-seed1`` → ``sigma0-seed1``), any other id itself."""
        return ModelId.trained(0.0, self.seed) if self.is_reference else self

    @property
    def counterpart(self) -> ModelId:
        """The trained model a reference is compared with: the first run at its σ
        (``ref-sigma6-seed1`` → ``sigma6``); any other id: its group."""
        return ModelId.trained(self.sigma) if self.is_reference else self.group


def parse(text: object) -> ModelId:
    """:meth:`ModelId.parse`."""
    return ModelId.parse(text)


def model_id(sigma: float, seed_index: int = 0) -> str:
    """``sigma<σ>`` for the first training run of σ, ``sigma<σ>-seed<k>`` for replicate ``k``."""
    return str(ModelId.trained(sigma, seed_index))


def reference_id(sigma: float, seed_index: int = 0) -> str:
    """``ref-sigma<σ>`` (on ``sigma0``) or ``ref-sigma<σ>-seed<k>`` (on ``sigma0-seed<k>``)."""
    return str(ModelId.reference(sigma, seed_index))


def replicate_id(model: str, seed_index: int = 0) -> str:
    """Replicate ``k`` of a model id: ``blurpool`` → ``blurpool-seed<k>`` (``k = 0``: the id itself)."""
    return str(ModelId.parse(model).replicate(seed_index))


def seed_of_suffix(suffix: str) -> int:
    """The replicate index of a replicate suffix (the training rules' ``{rep}`` wildcard):
    ``""`` → 0, ``"-seed2"`` → 2.

    Raises:
        ValueError: ``suffix`` is neither empty nor ``-seed<k>`` with ``k ≥ 1``.
    """
    m = _SEED_SUFFIX.fullmatch(str(suffix))
    if m is None:
        raise ValueError(f"replicate suffix {suffix!r} is neither empty nor '{_SEED}<k>' with k >= 1")
    return int(m["seed"] or 0)


def seed_index(model: str) -> int:
    """The replicate index of a model id (``sigma6-seed2`` → 2, ``ref-sigma6-seed1`` → 1, ``sigma6`` → 0);
    0 for a name outside the grammar (it is its own single run)."""
    mid = ModelId.try_parse(model)
    return mid.seed if mid is not None else 0


def _family(model: str) -> str | None:
    """The family of ``model``, None for a name outside the grammar."""
    mid = ModelId.try_parse(model)
    return None if mid is None else mid.family


def in_sigma_series(model: str) -> bool:
    """Whether ``model`` names a run of the σ series ``sigma<σ>[-seed<k>]`` (no BlurPool, no reference)."""
    return _family(model) == SIGMA


def is_reference(model: str) -> bool:
    """Whether ``model`` names a filter-only reference (False for a name outside the grammar)."""
    return _family(model) == REFERENCE


def is_blurpool(model: str) -> bool:
    """Whether ``model`` names a BlurPool run (False for a name outside the grammar)."""
    return _family(model) == BLURPOOL


def group_of(model: str) -> str:
    """The condition a replicate belongs to (``sigma6-seed1`` → ``sigma6``); a name outside the grammar
    is its own group."""
    mid = ModelId.try_parse(model)
    return str(mid.group) if mid is not None else str(model)


def sigma_of(model: str) -> float:
    """The training σ (px at 224) of a model id (a reference: the σ of its blur; BlurPool: 0).

    Raises:
        ValueError: ``model`` is outside the grammar or the baseline (it has no σ).
    """
    mid = ModelId.parse(model)
    if mid.family == BASELINE:
        raise ValueError(f"model id {BASELINE!r} (random patches) has no training σ")
    return mid.sigma


def label(model: str) -> str:
    """:attr:`ModelId.label` of ``model``; a name outside the grammar as it is."""
    mid = ModelId.try_parse(model)
    return mid.label if mid is not None else str(model)


def sort_key(model: str) -> tuple[int, float, int, str]:
    """:attr:`ModelId.sort_key` of ``model`` (+ the name); names outside the grammar last, by name."""
    mid = ModelId.try_parse(model)
    return (*mid.sort_key, "") if mid is not None else (4, 0.0, 0, str(model))


def ordered(models: Iterable[str]) -> list[str]:
    """``models`` without duplicates in :func:`sort_key` order."""
    return sorted(dict.fromkeys(str(m) for m in models), key=sort_key)
