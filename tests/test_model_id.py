"""The one model-id grammar (blurscope.model_id): parse, format, label, sort, kind, wildcards."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from blurscope import model_id as M
from blurscope.config import model_ids
from blurscope.model_id import ModelId

REPO = Path(__file__).resolve().parents[1]

# id -> (family, sigma, seed, kind, label, group, network)
KNOWN = {
    "sigma0": ("sigma", 0.0, 0, "trained", "σ = 0", "sigma0", "sigma0"),
    "sigma0.5": ("sigma", 0.5, 0, "trained", "σ = 0.5", "sigma0.5", "sigma0.5"),
    "sigma10": ("sigma", 10.0, 0, "trained", "σ = 10", "sigma10", "sigma10"),
    "sigma6-seed2": ("sigma", 6.0, 2, "replicate", "σ = 6 (seed 2)", "sigma6", "sigma6-seed2"),
    "blurpool": ("blurpool", 0.0, 0, "blurpool", "BlurPool", "blurpool", "blurpool"),
    "blurpool-seed1": ("blurpool", 0.0, 1, "blurpool", "BlurPool (seed 1)", "blurpool", "blurpool-seed1"),
    "ref-sigma6": ("reference", 6.0, 0, "reference", "reference σ = 6 (σ = 0 network behind the blur)",
                   "ref-sigma6", "sigma0"),
    "ref-sigma1.5-seed3": ("reference", 1.5, 3, "reference",
                           "reference σ = 1.5 (σ = 0 network behind the blur, σ 0 run 3)", "ref-sigma1.5",
                           "sigma0-seed3"),
    "baseline": ("baseline", None, 0, "baseline", "random patches", "baseline", "baseline"),
}


@pytest.mark.parametrize("text", list(KNOWN))
def test_every_form_of_the_grammar_parses_and_formats_back(text: str) -> None:
    family, sigma, seed, kind, label, group, network = KNOWN[text]
    mid = ModelId.parse(text)
    assert (mid.family, mid.sigma, mid.seed, mid.kind, mid.label) == (family, sigma, seed, kind, label)
    assert str(mid) == text and str(mid.group) == group and str(mid.network) == network
    assert ModelId.parse(str(mid)) == mid and hash(ModelId.parse(text)) == hash(mid)
    assert M.label(text) == label and M.seed_index(text) == seed and M.group_of(text) == group


def test_constructors_and_module_helpers_write_the_same_ids() -> None:
    assert [M.model_id(0.0), M.model_id(0.5), M.model_id(1.5, 2), M.model_id(6)] == [
        "sigma0", "sigma0.5", "sigma1.5-seed2", "sigma6"]
    assert str(ModelId.blurpool(2)) == "blurpool-seed2" == M.replicate_id("blurpool", 2)
    assert M.replicate_id("sigma6", 0) == "sigma6" and M.reference_id(6, 1) == "ref-sigma6-seed1"
    assert str(ModelId.parse("ref-sigma6-seed1").counterpart) == "sigma6"  # the trained model at its σ
    assert M.sigma_of("blurpool-seed1") == 0.0 and M.sigma_of("ref-sigma6") == 6.0
    assert M.is_reference("ref-sigma2") and not M.is_reference("sigma2") and not M.is_reference("my-net")
    assert M.is_blurpool("blurpool-seed3") and not M.is_blurpool("sigma0")
    assert M.in_sigma_series("sigma0-seed1") and not M.in_sigma_series("ref-sigma2")
    assert not M.in_sigma_series("blurpool")
    # outside the grammar: its own single run, label as given
    assert M.seed_index("my-net-seed4") == 0 and M.group_of("my-net") == "my-net" and M.label("my-net") == "my-net"


@pytest.mark.parametrize("bad", ["sigma2.0", "sigma02", "sigma0.50", "sigma.5", "sigma6-seed0", "sigma6-seed01",
                                 "ref-blurpool", "Sigma2", "sigma-1", "blurpool-seed", "ref-baseline", ""])
def test_ids_outside_the_grammar_are_refused_with_the_grammar(bad: str) -> None:
    with pytest.raises(ValueError, match=r"is not one of sigma<σ>, sigma<σ>-seed<k>, blurpool"):
        ModelId.parse(bad)
    assert ModelId.try_parse(bad) is None
    assert not re.fullmatch(M.WILDCARD, bad)


def test_bad_fields_are_refused() -> None:
    with pytest.raises(ValueError, match="family"):
        ModelId("resnet", 0.0)
    with pytest.raises(ValueError, match="seed index"):
        ModelId.trained(2, -1)
    with pytest.raises(ValueError, match="σ must be a number >= 0"):
        ModelId.trained(-1)
    with pytest.raises(ValueError, match="has no training σ"):
        M.sigma_of("baseline")


def test_wildcards_match_exactly_the_parseable_ids() -> None:
    analysable = [t for t in KNOWN if t != "baseline"]
    assert all(re.fullmatch(M.WILDCARD, t) for t in analysable)
    assert not re.fullmatch(M.WILDCARD, "baseline")
    trained = [t for t in analysable if not t.startswith("ref")]
    assert [t for t in analysable if re.fullmatch(M.TRAINED_WILDCARD, t)] == trained
    assert [v for v in ("0.5", "2", "10", "1.25", "0", "2.0", "0.50") if re.fullmatch(M.POSITIVE_SIGMA_WILDCARD, v)] \
        == ["0.5", "2", "10", "1.25"]
    assert [s for s in ("", "-seed1", "-seed12", "-seed0", "-seed") if re.fullmatch(M.SEED_SUFFIX_WILDCARD, s)] == [
        "", "-seed1", "-seed12"]
    assert [M.seed_of_suffix(s) for s in ("", "-seed1", "-seed12")] == [0, 1, 12]
    with pytest.raises(ValueError, match="replicate suffix '-seed0'"):
        M.seed_of_suffix("-seed0")


def test_order_is_series_by_sigma_then_blurpool_then_references_then_the_rest() -> None:
    models = ["ref-sigma6-seed1", "my-net", "blurpool-seed1", "sigma6-seed10", "sigma6-seed2", "baseline", "sigma6",
              "ref-sigma2", "ref-sigma6", "blurpool", "sigma0.5", "sigma0", "sigma0"]
    assert M.ordered(models) == ["sigma0", "sigma0.5", "sigma6", "sigma6-seed2", "sigma6-seed10", "blurpool",
                                 "blurpool-seed1", "ref-sigma2", "ref-sigma6", "ref-sigma6-seed1", "baseline", "my-net"]


def test_the_default_configs_ids_all_parse_and_checkpoints_are_a_config_kind(tmp_path: Path) -> None:
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    ids = model_ids(cfg)
    every = ids.all_trained + ids.reference_models
    assert [str(ModelId.parse(m)) for m in every] == every
    assert {ids.kind(m) for m in every} == {"trained", "replicate", "blurpool", "reference"}
    # a model trained elsewhere is a checkpoint model of this config (not a property of its id)
    ckpt = tmp_path / "s6.pt"
    ckpt.write_bytes(b"")
    cfg2 = copy.deepcopy(cfg)
    cfg2["model"]["checkpoints"] = {"sigma6": str(ckpt)}
    assert model_ids(cfg2).kind("sigma6") == "checkpoint" and model_ids(cfg2).kind("sigma3") == "trained"
    assert ids.kind("sigma6") == "trained"
