"""The library's one forward-hook helper.

Top-k extraction, AVR, band interventions and activation maps all observe or
edit intermediate tensors through :func:`capture`, and resolve layer names
through :func:`get_module`, so that an unknown layer name fails the same way
everywhere: with the list of valid names.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import nn


def module_root(model: nn.Module) -> nn.Module:
    """The module that layer names are relative to.

    blurscope models (:class:`blurscope.models.network.BlurscopeNet`) wrap a backbone
    behind a blur and normalisation stage; names such as ``"layer4.0"`` refer
    to ``model.backbone``. Any other module is its own root.
    """
    return getattr(model, "backbone", model)


def layer_names(model: nn.Module) -> list[str]:
    """All named submodules of the model's root, in definition order."""
    return [name for name, _ in module_root(model).named_modules() if name]


def get_module(model: nn.Module, name: str) -> nn.Module:
    """The submodule called ``name`` (relative to :func:`module_root`).

    Raises:
        KeyError: naming the unknown layer and listing the valid names.
    """
    root = module_root(model)
    try:
        return root.get_submodule(name)
    except AttributeError:
        names = layer_names(model)
        shown = ", ".join(names[:80]) + (" ..." if len(names) > 80 else "")
        raise KeyError(
            f"unknown layer {name!r} for model {type(root).__name__}; valid layer names: {shown}"
        ) from None


HookFn = Callable[[str, nn.Module, tuple, object], object]


@contextlib.contextmanager
def capture(
    model: nn.Module,
    names: Sequence[str],
    fn: HookFn,
    *,
    pre: bool = False,
) -> Iterator[None]:
    """Register ``fn`` on each named layer for the duration of the ``with`` block.

    Args:
        model: the network; names are resolved with :func:`get_module`.
        names: layer names, e.g. ``["layer2.0", "layer4.0"]``.
        fn: called as ``fn(name, module, inputs, output)`` after each forward
            (``pre=False``), or ``fn(name, module, inputs, None)`` before it
            (``pre=True``). A non-``None`` return value replaces the output
            (forward hook) or the inputs (pre-hook), as in PyTorch.
        pre: register forward-pre-hooks (see the layer's *input*) instead.

    All hooks are removed on exit, also when the block raises.
    """
    handles = []
    try:
        for name in names:
            module = get_module(model, name)
            if pre:

                def _pre(mod: nn.Module, inputs: tuple, _name: str = name) -> object:
                    return fn(_name, mod, inputs, None)

                handles.append(module.register_forward_pre_hook(_pre))
            else:

                def _post(mod: nn.Module, inputs: tuple, output: object, _name: str = name) -> object:
                    return fn(_name, mod, inputs, output)

                handles.append(module.register_forward_hook(_post))
        yield
    finally:
        for handle in handles:
            handle.remove()


def record_outputs(model: nn.Module, names: Sequence[str], images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Run ``model(images)`` once and return the named layers' outputs (detached).

    Convenience for small batches (tests, figures); streaming analyses reduce
    inside their own ``fn`` instead of keeping whole feature maps.
    """
    out: dict[str, torch.Tensor] = {}

    def keep(name: str, _m: nn.Module, _i: tuple, output: object) -> None:
        out[name] = output.detach() if isinstance(output, torch.Tensor) else output

    with capture(model, names, keep):
        model(images)
    return out
