"""``torch.autograd.Function``s of the transforms: forward passes on specsep's kernels (the public
NumPy-API functions, which take torch tensors zero-copy), backward passes the adjoints of
:mod:`._adjoint`. Their arguments are already checked and converted by :mod:`specsep.torch`."""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from .. import _transforms, api
from ._adjoint import istft_adjoint, on_kernels, stft_adjoint
from ._tensors import data as _data
from ._tensors import sum_to as _sum_to


class STFT(torch.autograd.Function):
    """``X = stft(plan, x)``; backward the adjoint STFT."""

    @staticmethod
    def forward(ctx, x, plan, backend):
        ctx.plan, ctx.backend, ctx.n_samples = plan, backend, x.shape[-1]
        return on_kernels(lambda array: _transforms.stft(plan, array, backend), x)

    @staticmethod
    @once_differentiable
    def backward(ctx, G):
        return stft_adjoint(ctx.plan, G, ctx.n_samples, ctx.backend), None, None


class ISTFT(torch.autograd.Function):
    """``y = istft(plan, X, length)``; backward the adjoint iSTFT."""

    @staticmethod
    def forward(ctx, X, plan, length, backend):
        ctx.plan, ctx.backend, ctx.n_frames = plan, backend, X.shape[-1]
        return on_kernels(lambda array: _transforms.istft(plan, array, length, backend), X)

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        return istft_adjoint(ctx.plan, g, ctx.n_frames, ctx.backend), None, None, None


def _mixture_grad(X_mix, M, grad):
    """Gradient of ``X_mix * M`` (the mixture broadcast over sources) w.r.t. the mixture:
    ``M * grad`` summed over what was broadcast."""
    product = grad * M
    if M.dim() > X_mix.dim():
        product = product.sum(dim=-3)
    return _sum_to(product, X_mix.shape)


class ApplyMask(torch.autograd.Function):
    """``Y = X_mix * M`` on the kernels; gradients ``M grad`` (mixture), ``Re(conj(X_mix) grad)``
    (masks, real)."""

    @staticmethod
    def forward(ctx, X_mix, M, backend):
        X_data, M_data = _data(X_mix), _data(M)
        ctx.save_for_backward(X_data, M_data)
        return api.apply_mask(X_data, M_data, backend=backend)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        X_mix, M = ctx.saved_tensors
        grad = grad.resolve_conj()
        mixture = X_mix.unsqueeze(-3) if M.dim() > X_mix.dim() else X_mix
        grad_X = _mixture_grad(X_mix, M, grad) if ctx.needs_input_grad[0] else None
        grad_M = _sum_to((mixture.conj() * grad).real, M.shape) if ctx.needs_input_grad[1] else None
        return grad_X, grad_M, None


class Separate(torch.autograd.Function):
    """``y = istft(stft(x_mix) * M)`` in one kernel call; backward: the adjoint iSTFT of the
    gradient, then the masks' gradient against the recomputed mixture STFT and the adjoint STFT
    of the masked one."""

    @staticmethod
    def forward(ctx, x_mix, M, plan, length, backend):
        x_data, M_data = _data(x_mix), _data(M)
        ctx.save_for_backward(x_data, M_data)
        ctx.plan, ctx.length, ctx.backend = plan, length, backend
        return api.separate(x_data, M_data, plan.n_fft, plan.hop_length, plan.win_length, plan.window_spec,
                            plan.center, plan.pad_mode, plan.normalized, length, backend=backend)

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        x_mix, M = ctx.saved_tensors
        plan, backend = ctx.plan, ctx.backend
        G = istft_adjoint(plan, g, M.shape[-1], backend)
        X = on_kernels(lambda array: _transforms.stft(plan, array, backend), x_mix)
        grad_M = None
        if ctx.needs_input_grad[1]:
            mixture = X.unsqueeze(-3) if M.dim() > X.dim() else X
            grad_M = _sum_to((mixture.conj() * G).real, M.shape)
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = stft_adjoint(plan, _mixture_grad(X, M, G), x_mix.shape[-1], backend)
        return grad_x, grad_M, None, None, None
