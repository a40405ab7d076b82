"""What every module of :mod:`specsep.torch` checks and converts: tensor arguments, windows,
the data handed to the kernels, gradients of broadcast operands."""

from __future__ import annotations

import torch


def check_tensor(name, x):
    """``x`` itself when it is a tensor; a TypeError naming ``name`` otherwise."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__} (specsep's NumPy API takes arrays)")
    return x


def window_spec(window):
    """A plan's ``window`` from a name or a tensor (no gradient flows to a window)."""
    if isinstance(window, str):
        return window
    check_tensor("window", window)
    if window.requires_grad:
        raise ValueError("window requires grad, but specsep.torch computes no gradient for the window: "
                         "pass window.detach()")
    return window.detach().to("cpu", torch.float64).numpy()


def data(tensor):
    """What a forward pass hands to the kernels and keeps: no graph, no lazy conjugation or negation."""
    return tensor.detach().resolve_conj().resolve_neg()


def sum_to(grad, shape):
    """``grad`` summed over the axes that broadcasting expanded from ``shape``."""
    return grad.sum_to_size(shape) if grad.shape != shape else grad
