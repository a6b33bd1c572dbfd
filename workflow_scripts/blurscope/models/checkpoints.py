"""Models trained elsewhere: reading, fingerprinting and importing checkpoint files.

A vision scientist often has the per-σ networks already (the VITAL study analysed
eight ResNet-50 checkpoints). Config ``model.checkpoints`` maps model ids
(``sigma<σ>``, ``sigma<σ>-seed<k>``, ``blurpool``) to local files; each is imported
once into blurscope's own format (``results/models/<id>.safetensors`` + ``.json``:
the σ blur layer, ImageNet normalisation and the backbone) by rule
``import_checkpoint``, and every analysis then runs on it exactly as on a model
trained here.

Accepted layouts (:func:`read_checkpoint`):

* ``.safetensors`` (a flat ``{name: tensor}``);
* a torch file (``.pt``, ``.pth``, ``.pth.tar``, ``.ckpt``, …) holding a state dict, or a
  checkpoint dict with the state dict under ``state_dict``, ``model`` or
  ``model_state_dict`` (the VITAL / torchvision-references / Lightning layouts; the
  rest of the dict — optimiser, epoch — is ignored). Read with ``weights_only=True``:
  a pickle that would run arbitrary code is refused;
* names with a ``module.`` prefix (DataParallel / DistributedDataParallel) or
  ``model.`` prefix; torchvision's and antialiased-cnns' own names (the native names of
  ``model.arch: resnet50`` and its BlurPool variant); blurscope's saved models
  (``normalize.*`` + ``backbone.*``).

Loading is strict: a missing, unexpected or mis-shaped tensor is an error naming the
file and the first offending names (:func:`blurscope.models.network.load_backbone_weights`).

Fingerprints (:func:`fingerprint`) are SHA-256 content hashes, cached by (size,
mtime) in a small JSON file, so that replacing a checkpoint reruns that model's
import and analyses, a touch with the same content reruns nothing, and a workflow
parse does not re-read gigabytes of weights.

Importing this module does not import torch (the workflow parses it).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

STATE_KEYS = ("state_dict", "model", "model_state_dict")
"""Keys under which a checkpoint dict holds the network's state dict (tried in this order)."""
WRAPPER_PREFIXES = ("module.", "model.")
"""Prefixes added by wrappers (DataParallel / DDP, Lightning-style ``model.``), stripped when all names have one."""
BLURSCOPE_BUFFERS = ("normalize.mean", "normalize.std")
"""The non-backbone tensors of a blurscope model file (its fixed blur has none)."""

CACHE_FILE = Path(".snakemake") / "blurscope" / "checkpoint_fingerprints.json"
"""Fingerprint cache, relative to the workflow's working directory (not an output: no rerun depends on its mtime)."""


@dataclass(frozen=True)
class CheckpointInfo:
    """What the workflow knows about one checkpoint file without loading it into a network."""

    path: str
    """Absolute path."""
    sha256: str
    """Content hash (hex)."""
    size: int
    """Bytes."""
    format: str
    """``safetensors`` or ``torch``."""
    shapes: dict[str, tuple[int, ...]]
    """Backbone tensor name → shape, after unwrapping (:func:`backbone_names`)."""

    def short(self) -> str:
        """The first 12 hex digits of the hash (for logs and tables)."""
        return self.sha256[:12]


def file_format(path: str | os.PathLike) -> str:
    """``safetensors`` for a ``.safetensors`` file, else ``torch`` (a torch-serialised file)."""
    return "safetensors" if str(path).endswith(".safetensors") else "torch"


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """SHA-256 of a file's bytes (hex), read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _unwrap(obj: Any, path: str | os.PathLike) -> dict[str, Any]:
    """The state dict inside a torch checkpoint object (see :data:`STATE_KEYS`)."""
    import torch

    for key in STATE_KEYS:
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not any(isinstance(v, torch.Tensor) for v in obj.values()):
        found = f"; its top level: {sorted(map(str, obj))[:8]}" if isinstance(obj, dict) else ""
        raise ValueError(
            f"checkpoint {path} holds no state dict (a dict of tensors, or a dict with one under "
            f"{' / '.join(STATE_KEYS)}){found}"
        )
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ValueError(
            f"checkpoint {path}: the state dict has {len(bad)} entries that are not tensors (e.g. {bad[:3]})"
        )
    return obj


def backbone_names(names: Mapping[str, Any]) -> dict[str, Any]:
    """The backbone's part of a state dict (or of a ``{name: shape}`` map), names as the backbone has them.

    Strips a wrapper prefix that every name carries (:data:`WRAPPER_PREFIXES`, repeatedly:
    ``module.model.`` works too); a blurscope model (``normalize.*`` beside ``backbone.*``)
    gives its ``backbone.*`` tensors without the prefix; a state dict whose every name
    starts with ``backbone.`` likewise.
    """
    out = dict(names)
    changed = True
    while changed and out:
        changed = False
        for prefix in WRAPPER_PREFIXES:
            if all(k.startswith(prefix) for k in out):
                out = {k[len(prefix):]: v for k, v in out.items()}
                changed = True
    if out and all(k.startswith("backbone.") or k in BLURSCOPE_BUFFERS for k in out):
        out = {k[len("backbone."):]: v for k, v in out.items() if k.startswith("backbone.")}
    return out


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], str]:
    """Read a checkpoint file: the backbone's state dict and the file's format.

    Returns:
        ``(state, format)``: tensor name (as the backbone names it) → tensor, and
        ``safetensors`` / ``torch``.

    Raises:
        FileNotFoundError: naming the file.
        ValueError: naming the file, when it cannot be read, holds no state dict, or is a
            pickle that needs arbitrary code (refused: ``torch.load(weights_only=True)``), or
            is a blurscope model whose normalisation is not ImageNet's.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    fmt = file_format(path)
    if fmt == "safetensors":
        from safetensors.torch import load_file

        try:
            state: dict[str, Any] = dict(load_file(str(path)))
        except Exception as err:  # noqa: BLE001 - safetensors raises its own error types
            raise ValueError(f"checkpoint {path} could not be read as safetensors ({err})") from err
    else:
        import pickle

        import torch

        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            import re

            what = re.search(r"GLOBAL ([\w.]+)", str(err))
            if what is None:  # not a refusal of code: the bytes are no torch file at all
                why = re.search(r"(Unsupported [^\n]*|invalid load key[^\n]*)", str(err))
                raise ValueError(
                    f"checkpoint {path} could not be read as a torch file ({why.group(1) if why else 'not a pickle'})"
                ) from None
            raise ValueError(
                f"checkpoint {path} is a pickle that needs more than tensors and plain containers to load "
                f"(it calls {what.group(1)}); blurscope reads checkpoints with torch.load(weights_only=True) and "
                "refuses to run code from a file. Re-save the state dict where the file was made: "
                "torch.save(model.state_dict(), path)"
            ) from None
        except Exception as err:  # noqa: BLE001 - any other failure is reported with the file
            raise ValueError(f"checkpoint {path} could not be read as a torch file ({err})") from err
        state = _unwrap(obj, path)
    _check_blurscope_normalisation(state, path)
    return backbone_names(state), fmt


def _check_blurscope_normalisation(state: Mapping[str, Any], path: str | os.PathLike) -> None:
    """A blurscope model file must carry ImageNet's normalisation (every blurscope model applies it)."""
    if "normalize.mean" not in state:
        return
    from blurscope.models.network import IMAGENET_MEAN, IMAGENET_STD

    for key, want in (("normalize.mean", IMAGENET_MEAN), ("normalize.std", IMAGENET_STD)):
        got = [round(float(v), 6) for v in state[key].flatten()]
        if got != [round(v, 6) for v in want]:
            raise ValueError(f"checkpoint {path}: {key} is {got}, blurscope applies ImageNet's {list(want)}")


def checkpoint_shapes(path: str | os.PathLike) -> dict[str, tuple[int, ...]]:
    """Backbone tensor name → shape; a ``.safetensors`` file by its header alone (no torch)."""
    if file_format(path) == "safetensors":
        from blurscope.models.archinfo import safetensors_shapes

        return backbone_names(safetensors_shapes(str(path)))
    state, _ = read_checkpoint(path)
    return {k: tuple(v.shape) for k, v in state.items()}


def _load_cache(cache: Path) -> dict[str, Any]:
    try:
        return json.loads(cache.read_text())
    except (OSError, ValueError):
        return {}


def _store_cache(cache: Path, entries: dict[str, Any]) -> None:
    """Write the cache atomically; a read-only working directory only costs the next parse a re-hash."""
    from blurscope.io import atomic_path

    try:
        with atomic_path(cache) as tmp:
            tmp.write_text(json.dumps(entries, indent=1, sort_keys=True))
    except OSError:
        pass


def describe(path: str | os.PathLike, cache: str | os.PathLike | None = CACHE_FILE) -> CheckpointInfo:
    """Hash, size, format and backbone shapes of a checkpoint, cached by (path, size, mtime).

    Args:
        cache: JSON cache file (None: no cache). An entry is reused only while the file's
            size and modification time are unchanged, so a replaced file is hashed anew.

    Raises:
        FileNotFoundError / ValueError naming the file (see :func:`read_checkpoint`).
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    st = path.stat()
    key = str(path)
    entries = _load_cache(Path(cache)) if cache is not None else {}
    hit = entries.get(key)
    if hit and hit.get("size") == st.st_size and hit.get("mtime_ns") == st.st_mtime_ns:
        shapes = {k: tuple(v) for k, v in hit["shapes"].items()}
        return CheckpointInfo(key, hit["sha256"], st.st_size, hit["format"], shapes)
    info = CheckpointInfo(key, sha256_of(path), st.st_size, file_format(path), checkpoint_shapes(path))
    if cache is not None:
        entries[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": info.sha256,
                        "format": info.format, "shapes": {k: list(v) for k, v in info.shapes.items()}}
        _store_cache(Path(cache), entries)
    return info


def provenance(info: CheckpointInfo) -> dict[str, Any]:
    """The ``checkpoint`` entry of an imported model's meta: where it came from, byte for byte."""
    return {"path": info.path, "sha256": info.sha256, "size": info.size, "format": info.format}


def import_checkpoint(
    path: str | os.PathLike, arch: str, num_classes: int, antialiased: bool, arch_kwargs: Mapping[str, Any],
    sigma_px: float,
) -> tuple[Any, str]:
    """A blurscope model (:class:`blurscope.models.network.BlurscopeNet`: fixed blur of ``sigma_px`` →
    ImageNet normalisation → backbone) whose backbone holds a checkpoint's weights, strictly loaded.

    Args:
        arch / num_classes / antialiased / arch_kwargs: the backbone, as
            :func:`blurscope.models.network.build_model` builds it (BlurPool model: ``antialiased``).
        sigma_px: the blur the model was trained behind (px at the image size): a σ model
            trained elsewhere on blurred images gets the same blur in front as one trained here.

    Returns:
        ``(model, format)``, the model in eval mode on the CPU.

    Raises:
        ValueError: naming the file and the first missing / unexpected / mis-shaped tensors.
    """
    from blurscope.models.network import BlurscopeNet, build_model, load_backbone_weights

    state, fmt = read_checkpoint(path)
    backbone = build_model(arch, int(num_classes), bool(antialiased), **dict(arch_kwargs))
    load_backbone_weights(backbone, state, str(path))
    return BlurscopeNet(backbone, float(sigma_px)).eval(), fmt
