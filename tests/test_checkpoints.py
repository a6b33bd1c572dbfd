"""blurscope.models.checkpoints: models trained elsewhere, in every layout users have them.

Known answers: a network saved in each supported layout and imported gives a bitwise-identical
forward pass; a wrong architecture fails naming the file and the tensors; a pickle that needs
code is refused; fingerprints follow the bytes, not the mtime; a config that would analyse an
untrained network is refused naming the models.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import save_file

from blurscope.config import check_config, check_model_config, model_ids, validate_schema
from blurscope.models import checkpoints
from blurscope.models.checkpoints import describe, import_checkpoint, read_checkpoint
from blurscope.models.network import BlurscopeNet, build_model, load_model, save_model

REPO = Path(__file__).resolve().parents[1]


def _net(antialiased: bool = False, seed: int = 3) -> BlurscopeNet:
    torch.manual_seed(seed)
    net = BlurscopeNet(build_model("resnet_narrow", 5, antialiased, widths=(8, 8, 16, 16)), 0.0).eval()
    # non-trivial BatchNorm statistics: a layout that dropped buffers would show in the forward pass
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return net


def _layouts(net: BlurscopeNet, folder: Path) -> dict[str, Path]:
    """The same backbone in every layout blurscope reads (after one SGD step, so the VITAL-style file
    carries a real optimiser state beside the weights)."""
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net.train()
    torch.nn.functional.cross_entropy(net(torch.rand(2, 3, 32, 32)), torch.tensor([0, 1])).backward()
    opt.step()
    net.eval()
    sd = net.backbone.state_dict()
    out = {}
    out["safetensors"] = folder / "plain.safetensors"
    save_file({k: v.contiguous() for k, v in sd.items()}, str(out["safetensors"]))
    out["state dict (.pt)"] = folder / "plain.pt"
    torch.save(sd, out["state dict (.pt)"])
    # the VITAL study's layout: torch.save({'epoch', 'arch', 'state_dict' of DataParallel, 'best_acc1', 'optimizer'})
    out["VITAL .pth.tar"] = folder / "model_best.pth.tar"
    torch.save({"epoch": 60, "arch": "resnet50", "state_dict": {"module." + k: v for k, v in sd.items()},
                "best_acc1": torch.tensor(71.2), "optimizer": opt.state_dict()}, out["VITAL .pth.tar"])
    out["model"] = folder / "model_key.pth"
    torch.save({"model": sd, "epoch": 3}, out["model"])
    out["model_state_dict (DDP)"] = folder / "ddp.ckpt"
    torch.save({"model_state_dict": {"module." + k: v for k, v in sd.items()}}, out["model_state_dict (DDP)"])
    out["blurscope model"] = folder / "own.safetensors"
    save_model(net, out["blurscope model"], {"model_id": "x"})
    return out


@pytest.mark.parametrize("antialiased", [False, True], ids=["plain", "blurpool"])
def test_every_layout_gives_a_bitwise_identical_forward_pass(tmp_path: Path, antialiased: bool) -> None:
    net = _net(antialiased)
    files = _layouts(net, tmp_path)
    x = torch.rand(4, 3, 32, 32)
    with torch.inference_mode():
        want = net(x)
    for name, path in files.items():
        model, fmt = import_checkpoint(path, "resnet_narrow", 5, antialiased, {"widths": [8, 8, 16, 16]}, 0.0)
        assert fmt == ("safetensors" if path.suffix == ".safetensors" else "torch"), name
        with torch.inference_mode():
            assert torch.equal(model(x), want), name
        # and once more through blurscope's own file: import → save → load_model
        save_model(model, tmp_path / "imported.safetensors", {
            "arch": "resnet_narrow", "arch_kwargs": {"widths": [8, 8, 16, 16]}, "antialiased": antialiased,
            "num_classes": 5, "sigma_px": 0.0})
        again, _ = load_model(tmp_path / "imported.safetensors")
        with torch.inference_mode():
            assert torch.equal(again(x), want), name


def test_imported_model_gets_the_blur_of_its_sigma(tmp_path: Path) -> None:
    net = _net()
    torch.save(net.backbone.state_dict(), tmp_path / "s.pt")
    model, _ = import_checkpoint(tmp_path / "s.pt", "resnet_narrow", 5, False, {"widths": [8, 8, 16, 16]}, 1.5)
    x = torch.rand(2, 3, 32, 32)
    with torch.inference_mode():
        assert torch.equal(model(x), BlurscopeNet(net.backbone, 1.5).eval()(x))
        assert not torch.equal(model(x), net(x))


def test_wrong_architecture_fails_naming_the_file_and_the_tensors(tmp_path: Path) -> None:
    torch.save({"state_dict": build_model("resnet18", 5).state_dict()}, tmp_path / "r18.pth.tar")
    with pytest.raises(ValueError) as err:
        import_checkpoint(tmp_path / "r18.pth.tar", "resnet_narrow", 5, False, {"widths": [8, 8, 16, 16]}, 0.0)
    msg = str(err.value)
    assert str(tmp_path / "r18.pth.tar") in msg and "does not fit architecture" in msg
    assert "shape mismatch: conv1.weight (64, 3, 7, 7) vs model (8, 3, 7, 7)" in msg
    assert "unexpected" in msg and "layer1.1.conv1.weight" in msg
    # the BlurPool model's checkpoint must be the antialiased variant (antialiased-cnns' names and filters)
    torch.save(build_model("resnet18", 5).state_dict(), tmp_path / "plain18.pt")
    with pytest.raises(ValueError, match=r"plain18.pt does not fit .*missing \d+ keys \(e.g. maxpool.1.filt"):
        import_checkpoint(tmp_path / "plain18.pt", "resnet18", 5, True, {}, 0.0)
    bp = build_model("resnet18", 5, True)
    torch.save({"state_dict": {"module." + k: v for k, v in bp.state_dict().items()}}, tmp_path / "bp18.pth.tar")
    model, _ = import_checkpoint(tmp_path / "bp18.pth.tar", "resnet18", 5, True, {}, 0.0)
    assert all(torch.equal(v, bp.state_dict()[k]) for k, v in model.backbone.state_dict().items())


class _Gadget:
    """An object a pickle can only rebuild by running this module's code."""

    def __reduce__(self):
        return (os.getcwd, ())


def test_a_pickle_that_runs_code_is_refused(tmp_path: Path) -> None:
    torch.save({"state_dict": {"w": torch.zeros(1)}, "x": _Gadget()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match=r"evil.pt is a pickle that needs more than .* \(it calls posix.getcwd\); "
                                         r"blurscope reads checkpoints with torch.load\(weights_only=True\)"):
        read_checkpoint(tmp_path / "evil.pt")


def test_files_without_a_state_dict_are_refused(tmp_path: Path) -> None:
    torch.save({"epoch": 3, "best": 0.5}, tmp_path / "meta.pt")
    with pytest.raises(ValueError, match=r"meta.pt holds no state dict"):
        read_checkpoint(tmp_path / "meta.pt")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 16)
    with pytest.raises(ValueError, match=r"junk.safetensors could not be read as safetensors"):
        read_checkpoint(tmp_path / "junk.safetensors")
    with pytest.raises(FileNotFoundError, match=r"gone.pt does not exist"):
        read_checkpoint(tmp_path / "gone.pt")


def test_blurscope_model_with_other_normalisation_is_refused(tmp_path: Path) -> None:
    net = _net()
    net.normalize.mean.fill_(0.5)
    save_model(net, tmp_path / "odd.safetensors", {})
    with pytest.raises(ValueError, match=r"normalize.mean is \[0.5, 0.5, 0.5\], blurscope applies ImageNet's"):
        read_checkpoint(tmp_path / "odd.safetensors")


def test_fingerprint_follows_the_bytes_and_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, cache = tmp_path / "m.pt", tmp_path / "cache" / "fp.json"
    torch.save(_net(seed=1).backbone.state_dict(), path)
    first = describe(path, cache)
    assert first.sha256 == checkpoints.sha256_of(path) and first.size == path.stat().st_size
    assert first.shapes["conv1.weight"] == (8, 3, 7, 7) and first.format == "torch"
    # a second parse reads nothing: the entry matches size and mtime
    monkeypatch.setattr(checkpoints, "sha256_of", lambda p: pytest.fail("re-hashed an unchanged file"))
    assert describe(path, cache) == first
    monkeypatch.undo()
    # touched, same bytes: hashed again (mtime changed), same fingerprint
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert describe(path, cache).sha256 == first.sha256
    # replaced by other weights: another fingerprint
    torch.save(_net(seed=2).backbone.state_dict(), path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2 * 10**9))
    assert describe(path, cache).sha256 != first.sha256


# ----------------------------------------------------------------------------- config


@pytest.fixture
def cfg() -> dict:
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    validate_schema(cfg, REPO / "config" / "schema.yaml")
    return copy.deepcopy(cfg)


def _narrow_checkpoint(path: Path, n_classes: int = 10, antialiased: bool = False) -> str:
    torch.save({"state_dict": build_model("resnet_narrow", n_classes, antialiased).state_dict()}, path)
    return str(path)


def test_models_with_checkpoints_are_not_trained(cfg: dict, tmp_path: Path) -> None:
    cfg["model"]["checkpoints"] = {"sigma6": _narrow_checkpoint(tmp_path / "s6.pth.tar"),
                                   "blurpool": _narrow_checkpoint(tmp_path / "bp.pt", antialiased=True)}
    check_config(cfg)
    check_model_config(cfg)
    ids = model_ids(cfg)
    assert ids.checkpoints == {"sigma6": str(tmp_path / "s6.pth.tar"), "blurpool": str(tmp_path / "bp.pt")}
    assert ids.trained_here == [m for m in ids.all_trained if m not in ("sigma6", "blurpool")]
    assert "sigma6-seed1" in ids.trained_here  # a replicate is its own model: its own checkpoint or training
    assert ids.all_trained == ids.models + ids.seed_models  # analysed like every other model


def test_zero_epochs_with_a_checkpoint_for_every_model(cfg: dict, tmp_path: Path) -> None:
    cfg["training"]["epochs"] = 0
    ids = model_ids(cfg).all_trained
    cfg["model"]["checkpoints"] = {m: _narrow_checkpoint(tmp_path / f"{m}.pt", antialiased=m == "blurpool")
                                   for m in ids if m != "sigma0"}
    # model.weights with zero epochs is sigma0's checkpoint, used as is
    cfg["model"]["weights"] = _narrow_checkpoint(tmp_path / "base.pt")
    check_config(cfg)
    assert model_ids(cfg).trained_here == [] and model_ids(cfg).checkpoints["sigma0"] == str(tmp_path / "base.pt")
    # ... but not for the replicate of sigma0, which would be analysed untrained
    del cfg["model"]["checkpoints"]["sigma0-seed1"]
    with pytest.raises(ValueError, match=r"epochs': 0 .* but \['sigma0-seed1'\] have no checkpoint"):
        check_config(cfg)


def test_checkpoint_of_the_wrong_architecture_fails_at_parse_time(cfg: dict, tmp_path: Path) -> None:
    cfg["model"]["checkpoints"] = {"sigma2": _narrow_checkpoint(tmp_path / "s2.pt", n_classes=7)}
    with pytest.raises(ValueError) as err:
        check_model_config(cfg)
    assert str(err.value).startswith(
        f"config key 'model.checkpoints.sigma2': checkpoint {tmp_path / 's2.pt'} does not fit the architecture "
        "resnet_narrow with 10 classes (model sigma2): shape mismatch: fc.weight (7, 128) vs model (10, 128)"
    )
    # BlurPool: the antialiased variant's tensors (resnet18: antialiased-cnns' filters) are required
    cfg["model"]["arch"] = "resnet18"
    cfg["analysis"]["layers"], cfg["bands"]["layers"] = ["layer2.0"], ["layer1.0"]
    cfg["model"]["checkpoints"] = {"blurpool": str(tmp_path / "r18.pt")}
    torch.save(build_model("resnet18", 10).state_dict(), tmp_path / "r18.pt")
    replicate = copy.deepcopy(cfg)  # a BlurPool replicate is a BlurPool network too
    replicate["model"]["checkpoints"] = {"blurpool-seed1": str(tmp_path / "r18.pt")}
    with pytest.raises(ValueError, match=r"'model.checkpoints.blurpool-seed1': .* BlurPool architecture"):
        check_model_config(replicate)
    with pytest.raises(ValueError, match=r"'model.checkpoints.blurpool': .* does not fit the BlurPool architecture "
                                         r"resnet18 with 10 classes \(model blurpool\): "
                                         r".*missing 25 keys \(e.g. maxpool.1.filt"):
        check_model_config(cfg)
