"""Differentiable fast Griffin-Lim and MISI: :func:`specsep.griffin_lim` and :func:`specsep.misi`
on tensors, with gradients for the magnitudes, the initial phases given as a tensor and (MISI) the
mixture. The iterations and their reverse mode live in ``_phase.py``."""

from __future__ import annotations

import numpy as np
import torch

from .. import _plan, api
from .. import _validate as v
from .._random_angles import complex_angles
from . import _functions
from ._adjoint import on_kernels
from ._phase import Iterations, PhaseRetrieval, default_every
from ._tensors import check_tensor as _tensor
from ._tensors import window_spec as _window_spec

__all__ = ["griffin_lim", "misi"]


def _plan_of(n_fft, hop_length, win_length, window, center, pad_mode, dtype):
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"the magnitudes and signals must be float32 or float64 tensors, got {dtype}")
    return _plan.get(n_fft, hop_length, win_length, _window_spec(window), center, pad_mode, False,
                     str(dtype).removeprefix("torch."))


def _check_every(checkpoint_every):
    return None if checkpoint_every is None else v.check_int("checkpoint_every", checkpoint_every, minimum=1)


def _records_graph(*tensors):
    """Whether autograd records this call: then the iterations run here (their states kept for
    the backward pass); otherwise the NumPy API's fused loop runs them, the same function."""
    return torch.is_grad_enabled() and any(isinstance(t, torch.Tensor) and t.requires_grad for t in tensors)


def _unit(values):
    """``values / |values|``, 1 where a value is 0 (api._initial_angles' rule), in complex128."""
    values = values.to(torch.complex128)
    modulus = values.abs()
    return torch.where(modulus > 0, values / torch.where(modulus > 0, modulus, 1), 1)


def _initial(init, shape, rng, like, phase_of_mixture=None):
    """Initial angles as a complex tensor: differentiable for a tensor ``init`` (phases in radians
    or complex values), constant otherwise (:func:`specsep.api._initial_angles`)."""
    if isinstance(init, torch.Tensor):
        data = init.detach()
        if not (data.is_complex() or data.is_floating_point()):
            raise TypeError(f"init must be 'random', 'zeros', a complex array or an array of phases, got dtype {init.dtype}")
        try:
            torch.broadcast_shapes(data.shape, shape)
        except RuntimeError:
            raise ValueError(f"init of shape {tuple(init.shape)} does not broadcast to the spectrogram shape {shape}") from None
        if not bool(torch.isfinite(data).all()):
            raise ValueError("init contains NaN or Inf")
        return _unit(init) if init.is_complex() else torch.polar(torch.ones_like(init, dtype=torch.float64),
                                                                  init.to(torch.float64))
    if init == "mixture" and phase_of_mixture is not None:
        return phase_of_mixture()
    angles = complex_angles(api._initial_angles(init, shape, rng, phase_of_mixture))
    return torch.from_numpy(np.asarray(angles)).to(like.device)


def griffin_lim(S, n_iter=32, hop_length=None, win_length=None, n_fft=None, window="hann", center=True,
                pad_mode="constant", length=None, momentum=0.99, init="random", rng=None, tol=None,
                return_history=False, *, precision=None, unstable_momentum=False, backend=None,
                checkpoint_every=None):
    """Differentiable fast Griffin-Lim: :func:`specsep.griffin_lim` with gradients.

    Arguments and results as :func:`specsep.griffin_lim`, on tensors (``window`` a name or a
    tensor). Gradients flow to ``S`` and to ``init`` when it is a tensor (phases in radians or
    complex values). An item that stopped on ``tol`` contributes the iterations it ran.

    Parameters
    ----------
    checkpoint_every : int, optional
        Keep the state of every ``checkpoint_every``-th iteration for the backward pass, which
        recomputes the others: ``n_iter / k + k`` states at most. Default ``ceil(sqrt(n_iter))``.

    Returns
    -------
    y : torch.Tensor, shape (..., length), dtype of ``S``
    history : torch.Tensor, shape (..., iterations), float64 (only with ``return_history``)
    """
    _tensor("S", S)
    every = _check_every(checkpoint_every)
    if not _records_graph(S, init):
        return api.griffin_lim(S.detach(), n_iter, hop_length, win_length, n_fft, _window_spec(window), center,
                               pad_mode, length, momentum, init, rng, tol, return_history, precision=precision,
                               unstable_momentum=unstable_momentum, backend=backend)
    data = S.detach()
    v.check_magnitudes("S", data, min_ndim=2)
    n_iter, momentum, tol = v.check_iteration(n_iter, momentum, tol, unstable_momentum)
    if n_fft is None:
        n_fft = 2 * (S.shape[-2] - 1)
    plan = _plan_of(n_fft, hop_length, win_length, window, center, pad_mode, S.dtype)
    iteration_plan, length = api._griffin_lim_checks(plan, data, n_iter, length, precision, return_history)
    every = every or default_every(n_iter)
    angles = _initial(init, tuple(S.shape), rng, S)
    problem = Iterations(iteration_plan, backend, length, momentum, tol, return_history, plan.dtype)
    y, history = PhaseRetrieval.apply(S, angles, None, problem, n_iter, every, S.dtype)
    return (y, history) if return_history else y


def misi(x_mix, S_sources, n_iter=32, momentum=0.0, init="mixture", weights=None, length=None, tol=None,
         return_history=False, n_fft=None, hop_length=None, win_length=None, window="hann", center=True,
         pad_mode="constant", rng=None, *, precision=None, unstable_momentum=False, backend=None,
         checkpoint_every=None):
    """Differentiable MISI: :func:`specsep.misi` with gradients.

    Arguments and results as :func:`specsep.misi`, on tensors; ``checkpoint_every`` as in
    :func:`griffin_lim`. Gradients flow to ``x_mix`` (through the iterations' mixture error and,
    with ``init="mixture"``, through the initial phases), to ``S_sources``, and to ``init`` when it
    is a tensor.

    Returns
    -------
    sources : torch.Tensor, shape (..., J, length), dtype of ``x_mix``
    history : torch.Tensor, shape (..., iterations), float64 (only with ``return_history``)
    """
    _tensor("x_mix", x_mix)
    _tensor("S_sources", S_sources)
    every = _check_every(checkpoint_every)
    if not _records_graph(x_mix, S_sources, init):
        return api.misi(x_mix.detach(), S_sources.detach(), n_iter, momentum, init, weights, length, tol,
                        return_history, n_fft, hop_length, win_length, _window_spec(window), center, pad_mode, rng,
                        precision=precision, unstable_momentum=unstable_momentum, backend=backend)
    mixture = v.as_real_array("x_mix", x_mix.detach())
    v.check_finite("x_mix", mixture)
    S = v.check_magnitudes("S_sources", S_sources.detach(), min_ndim=3)
    v.check_same_precision("S_sources", S, mixture.dtype, "x_mix")
    n_iter, momentum, tol = v.check_iteration(n_iter, momentum, tol, unstable_momentum)
    v.check_bool("return_history", return_history)
    api._misi_sources_of(S, mixture.shape)
    length = v.check_optional_length(length)
    if length is not None and length != x_mix.shape[-1]:  # trimmed or zero-padded, differentiably
        x_mix = torch.nn.functional.pad(x_mix, (0, length - x_mix.shape[-1]))
    weights = v.check_weights(weights, S.shape[-3])
    if n_fft is None:
        n_fft = 2 * (S.shape[-2] - 1)
    plan = _plan_of(n_fft, hop_length, win_length, window, center, pad_mode, x_mix.dtype)
    iteration_plan = api._misi_checks(plan, S, x_mix.shape[-1], precision)
    every = every or default_every(n_iter)

    def phase_of_mixture():
        # differentiable in x_mix: its STFT (an autograd Function), the phase c / |c| where the
        # bin is above the rounding level of its frame (api._vanishing_bins_to_one), else 1
        X = _functions.STFT.apply(x_mix, plan, backend)
        guarded = on_kernels(lambda array: api._vanishing_bins_to_one(plan, array), X)
        return torch.where(guarded != 1, _unit(X), 1).unsqueeze(-3)

    angles = _initial(init, tuple(S.shape), rng, S_sources, phase_of_mixture)
    problem = Iterations(iteration_plan, backend, x_mix.shape[-1], momentum, tol, return_history, plan.dtype,
                         weights=weights)
    sources, history = PhaseRetrieval.apply(S_sources, angles, x_mix, problem, n_iter, every, x_mix.dtype)
    return (sources, history) if return_history else sources
