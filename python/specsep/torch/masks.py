"""Differentiable masks: :mod:`specsep.masks` on torch tensors, with gradients.

The forward passes are :mod:`specsep.masks`' (same results, same checks); the backward passes
are the derivatives of their formulas, written below. The binary masks (:func:`ideal_binary`,
:func:`binarize`) are piecewise constant: their gradient is zero wherever it exists, so they
return tensors outside the graph, as torch's comparisons do.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from .. import masks as _masks
from ._tensors import data as _data
from ._tensors import sum_to as _sum_to

__all__ = ["binarize", "ideal_binary", "ideal_ratio", "normalize", "phase_sensitive", "softmask", "wiener"]


def _share_backward(weights, M, grad):
    """Gradient through ``M = weights / sum_k weights_k`` (sources on axis -3): ``(grad -
    sum_j grad_j M_j) / sum_k weights_k``, zero in the silent bins (there ``M = 1 / J``, constant)."""
    total = weights.sum(dim=-3, keepdim=True)
    inner = (grad * M).sum(dim=-3, keepdim=True)
    return torch.where(total > 0, (grad - inner) / torch.where(total > 0, total, 1), 0)


class _IdealRatio(torch.autograd.Function):
    @staticmethod
    def forward(ctx, S, power):
        S = _data(S)
        M = _masks.ideal_ratio(S, power)
        ctx.save_for_backward(S, M)
        ctx.power = power
        return M

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        S, M = ctx.saved_tensors
        p = ctx.power
        magnitude = S.abs()
        grad_w = _share_backward(magnitude ** p, M, grad)
        # d|S|^p / dS = p |S|^(p - 2) S (real S: p |S|^(p - 1) sign S); 0 at S = 0, where |S| has no derivative
        nonzero = magnitude > 0
        factor = torch.where(nonzero, p * torch.where(nonzero, magnitude, 1) ** (p - 2), 0)
        return grad_w * factor * S, None


class _Normalize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, M):
        M = _data(M)
        out = _masks.normalize(M)
        ctx.save_for_backward(M, out)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        M, out = ctx.saved_tensors
        return _share_backward(M, out, grad)


class _PhaseSensitive(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X_sources, X_mix, clip):
        X_sources, X_mix = _data(X_sources), _data(X_mix)
        M = _masks.phase_sensitive(X_sources, X_mix, clip)
        ctx.save_for_backward(X_sources, X_mix)
        ctx.clip = clip
        return M

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        X_sources, X_mix = ctx.saved_tensors
        mixture = X_mix.unsqueeze(-3)
        energy = mixture.abs() ** 2
        divisor = torch.where(energy > 0, energy, 1)
        raw = (X_sources * mixture.conj()).real / divisor
        low, high = ctx.clip
        # the clip passes the gradient inside [low, high] (torch.clamp's rule); a silent mixture bin is 0
        passed = torch.where((energy > 0) & (raw >= low) & (raw <= high), grad, 0) / divisor
        # m = Re(X_j conj X) / |X|^2: dm/dX_j = X / |X|^2, dm/dX = (X_j - 2 m X) / |X|^2
        grad_sources = _sum_to(passed * mixture, X_sources.shape) if ctx.needs_input_grad[0] else None
        grad_mix = None
        if ctx.needs_input_grad[1]:
            grad_mix = _sum_to((passed * (X_sources - 2 * raw * mixture)).sum(dim=-3), X_mix.shape)
        return grad_sources, grad_mix, None


class _Softmask(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, X_ref, power, split_zeros):
        X, X_ref = _data(X), _data(X_ref)
        ctx.save_for_backward(X, X_ref)
        ctx.power = power
        return _masks.softmask(X, X_ref, power, split_zeros)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        X, X_ref = ctx.saved_tensors
        p = ctx.power
        if p == float("inf"):  # the hard mask X > X_ref: piecewise constant
            return torch.zeros_like(X), torch.zeros_like(X_ref), None, None
        # M = x^p / (x^p + r^p) with x, r scaled by Z = max(X, X_ref) as the forward does:
        # dM/dX = p x^(p-1) r^p / (x^p + r^p)^2 / Z, dM/dX_ref = -p x^p r^(p-1) / (x^p + r^p)^2 / Z
        Z = torch.maximum(X, X_ref)
        silent = Z < torch.finfo(Z.dtype).tiny
        Z = torch.where(silent, 1, Z)
        x, r = X / Z, X_ref / Z
        common = torch.where(silent, 0, p * grad / ((x ** p + r ** p) ** 2 * Z))
        grad_X = _sum_to(common * x ** (p - 1) * r ** p, X.shape) if ctx.needs_input_grad[0] else None
        grad_ref = _sum_to(-common * x ** p * r ** (p - 1), X_ref.shape) if ctx.needs_input_grad[1] else None
        return grad_X, grad_ref, None, None


def ideal_ratio(S_sources, power=2.0):
    """Differentiable :func:`specsep.masks.ideal_ratio` (``S_sources`` a tensor, real or complex)."""
    return _IdealRatio.apply(S_sources, power)


def wiener(S_sources, power=2.0):
    """Differentiable :func:`specsep.masks.wiener`."""
    return ideal_ratio(S_sources, power)


def normalize(M):
    """Differentiable :func:`specsep.masks.normalize`."""
    return _Normalize.apply(M)


def phase_sensitive(X_sources, X_mix, clip=(0.0, 1.0)):
    """Differentiable :func:`specsep.masks.phase_sensitive` (zero gradient where clipped)."""
    return _PhaseSensitive.apply(X_sources, X_mix, clip)


def softmask(X, X_ref, power=1.0, split_zeros=False):
    """Differentiable :func:`specsep.masks.softmask` (zero gradient for ``power=inf``)."""
    return _Softmask.apply(X, X_ref, power, split_zeros)


def ideal_binary(S_sources):
    """:func:`specsep.masks.ideal_binary` of a tensor: piecewise constant, outside the graph."""
    return _masks.ideal_binary(_data(S_sources))


def binarize(M, threshold=0.5):
    """:func:`specsep.masks.binarize` of a tensor: piecewise constant, outside the graph."""
    return _masks.binarize(_data(M), threshold)
