"""Fast Griffin-Lim and MISI as ``torch.autograd.Function``s: the iterations of
:mod:`specsep._reference.phase` on specsep's transform kernels, and their reverse mode, the
adjoint chain of each iteration (``_adjoint.py``'s transforms, the derivative of ``c / |c|``, MISI's
distribution), over checkpointed states.

One iteration ``k`` maps the angles ``a_k`` and the previous signals ``x_(k-1)`` to
``x_k = signals(a_k)`` (GLA: ``istft(S a_k)``; MISI: those corrected by ``w_j`` times the mixture
error), ``c_k = stft(x_k - alpha x_(k-1))`` and ``a_(k+1) = c_k / |c_k|`` (1 where ``c_k`` is at
the rounding level of its frame, Note [vanishing bins] in cpp/include/specsep/phase.hpp; the
previous angles for items that stopped on ``tol``). The result is ``signals(a_n)``.

Reverse mode keeps the state ``(a_k, x_(k-1))`` of every ``checkpoint_every``-th iteration and
recomputes the others one segment at a time: ``n / every + every`` states at most, ``O(sqrt n)``
with the default ``every = ceil(sqrt n)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from .._reference.phase import _NOISE_ULPS
from ._adjoint import istft_adjoint, on_kernels, stft_adjoint
from .. import _transforms


class Iterations:
    """What one call iterates: the plan, magnitudes, mixture and the constants of the update.

    ``magnitude``: ``(..., F, T)`` (GLA) or ``(..., J, F, T)`` (MISI) in the iteration dtype;
    ``mixture``: ``(..., 1, L)`` and ``share``: ``weights`` as ``(J, 1)`` for MISI, None for GLA.
    """

    def __init__(self, plan, backend, length, momentum, tol, history, data_dtype, weights=None):
        self.plan, self.backend, self.length = plan, backend, length
        self.dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[plan.dtype]
        self.alpha = momentum / (1.0 + momentum)
        self.tol, self.history = tol, history
        self.magnitude = self.mixture = None  # set by the forward pass
        self.weights = weights  # MISI's share of the mixture error per source, (J,); None for GLA
        self.share = None
        self.item_axes = 2 if weights is None else 3
        # as the reference's _Iteration: eps of the coarser precision, tiny of the iteration's
        self.epsilon = max(np.finfo(data_dtype).eps, np.finfo(plan.dtype).eps)
        self.tiny = float(np.finfo(plan.dtype).tiny)

    # ---- the linear maps and their adjoints -----------------------------------------------
    def stft(self, x):
        return on_kernels(lambda array: _transforms.stft(self.plan, array, self.backend), x)

    def signals(self, angles):
        """``x = istft(S a)``, for MISI corrected by ``share`` times the mixture error."""
        x = on_kernels(lambda array: _transforms.istft(self.plan, array, self.length, self.backend),
                       self.magnitude * angles)
        if self.mixture is None:
            return x
        return x + self.share * (self.mixture - x.sum(dim=-2, keepdim=True))

    def signals_adjoint(self, x_bar, angles):
        """Adjoint of :meth:`signals` at ``angles``: the gradients for ``(S, a, mixture)``."""
        mixture_bar = None
        if self.mixture is not None:
            # x = y + w (m - sum_i y_i): y_bar = x_bar - sum_j w_j x_bar_j, m_bar = sum_j w_j x_bar_j
            mixture_bar = (self.share * x_bar).sum(dim=-2, keepdim=True)
            x_bar = x_bar - mixture_bar
        Z_bar = istft_adjoint(self.plan, x_bar, self.magnitude.shape[-1], self.backend)
        return (angles.conj() * Z_bar).real, self.magnitude * Z_bar, mixture_bar

    # ---- the phase update -------------------------------------------------------------------
    def kept(self, modulus, x):
        """Bins whose ``|c|`` is above the rounding level of their frame of ``x`` (Note [vanishing
        bins])."""
        energy = frame_energy(self.plan, x)
        if self.mixture is not None:  # every source carries noise at the item's scale
            energy = energy.sum(dim=-2, keepdim=True)
        floor = _NOISE_ULPS * self.epsilon * (1.0 + self.alpha) * energy.sqrt().unsqueeze(-2)
        return modulus > floor.to(modulus.dtype)

    def active_of(self, active):
        """Per-item flags ``(items...)`` against ``(..., [J,] F, T)``."""
        return active.reshape(active.shape + (1,) * self.item_axes)

    def step(self, angles, previous, active):
        """One iteration: ``(a_(k+1), x_k)``; ``active (items...)`` decides who takes it."""
        x = self.signals(angles)
        c = self.stft(x - self.alpha * previous)
        modulus = c.abs()
        new = torch.where(self.kept(modulus, x), c / (modulus + self.tiny), 1)
        return torch.where(self.active_of(active), new, angles), x

    def step_adjoint(self, angles, previous, active, angles_bar, x_bar, x=None):
        """Reverse of :meth:`step` at ``(a_k, x_(k-1))``: given the gradients for ``a_(k+1)`` and
        (from iteration ``k + 1``'s momentum) for ``x_k``, those for ``a_k``, ``x_(k-1)``, ``S``,
        and the mixture. ``x``: ``x_k`` when the caller holds it, else recomputed."""
        x = self.signals(angles) if x is None else x
        u = self.stft(x - self.alpha * previous)
        modulus = u.abs()
        moving = self.kept(modulus, x) & self.active_of(active)  # the forward's guard, on |c| itself
        u.div_(modulus.add_(self.tiny))  # c / |c|, in place: the temporaries of the chain bound the backward's memory
        # u = c / |c|: c_bar = (u_bar - u Re(conj(u) u_bar)) / |c|, the radial part removed
        c_bar = u.mul_((u.conj() * angles_bar).real).neg_().add_(angles_bar).div_(modulus)
        del u, modulus
        c_bar = torch.where(moving, c_bar, 0)
        through = torch.where(self.active_of(active), 0, angles_bar)  # stopped items keep a_k
        d = stft_adjoint(self.plan, c_bar, x.shape[-1], self.backend)
        del c_bar
        x_bar = d if x_bar is None else x_bar + d
        S_bar, a_bar, mixture_bar = self.signals_adjoint(x_bar, angles)
        return through + a_bar, -self.alpha * d, S_bar, mixture_bar

    def convergence(self, x):
        """Spectral convergence ``|| |STFT(x)| - S || / ||S||`` per item, float64."""
        axes = tuple(range(-self.item_axes, 0))
        S = self.magnitude.double()
        error = ((self.stft(x).abs().double() - S) ** 2).sum(dim=axes).sqrt()
        return error / (S ** 2).sum(dim=axes).sqrt().clamp_min(np.finfo(np.float64).tiny)


def frame_energy(plan, x):
    """``sum_j (w_j x_pad[t hop + j])**2`` per frame: ``(..., frames)`` (the reference's
    frame_energy, on tensors), in float64."""
    squares = x.double() ** 2
    samples = np.arange(x.shape[-1])
    sources = (np.pad(samples, plan.padding, constant_values=-1) if plan.pad_mode == "constant"
               else np.pad(samples, plan.padding, mode=plan.pad_mode))
    padded = torch.cat([squares, squares.new_zeros(squares.shape[:-1] + (1,))], dim=-1)
    padded = padded[..., torch.from_numpy(sources).to(x.device)]  # index -1: the appended zero
    frames = padded.unfold(-1, plan.n_fft, plan.hop_length)[..., :plan.n_frames(x.shape[-1]), :]
    return frames @ torch.from_numpy(plan.window64 ** 2).to(x.device)


def default_every(n_iter):
    """The default checkpoint spacing: ``ceil(sqrt(n_iter))`` (``O(sqrt n)`` states kept)."""
    return max(1, math.ceil(math.sqrt(n_iter)))


class PhaseRetrieval(torch.autograd.Function):
    """``signals(a_n)`` after ``n_iter`` iterations from ``angles``; differentiable in the
    magnitudes, the initial angles and (MISI) the mixture."""

    @staticmethod
    def forward(ctx, magnitude, angles, mixture, problem, n_iter, every, out_dtype):
        # the tensors the problem holds are the detached inputs (converted to its precision)
        problem.magnitude = magnitude.detach().to(problem.dtype)
        if mixture is not None:
            problem.mixture = mixture.detach().to(problem.dtype).unsqueeze(-2)
            problem.share = torch.as_tensor(problem.weights, dtype=problem.dtype, device=magnitude.device)[:, None]
        ctx.angles_shape, ctx.angles_dtype = angles.shape, angles.dtype
        angles = angles.detach().to(problem.dtype.to_complex()).expand(problem.magnitude.shape)
        batch_shape = problem.magnitude.shape[:-problem.item_axes]
        device = magnitude.device
        previous = torch.zeros((), dtype=problem.dtype, device=device)
        active = torch.ones(batch_shape, dtype=torch.bool, device=device)
        previous_sc = torch.full(batch_shape, float("inf"), dtype=torch.float64, device=device)
        history, actives, checkpoints = [], [], {}
        track = problem.tol is not None or problem.history
        for k in range(n_iter):
            if not bool(active.any()):
                break
            if k % every == 0:
                checkpoints[k] = (angles, previous)
            actives.append(active.clone())
            next_angles, x = problem.step(angles, previous, active)
            if track:
                sc = problem.convergence(x)
                history.append(torch.where(active, sc, float("nan")))
                if problem.tol is not None:
                    first = torch.isinf(previous_sc)
                    last = torch.where(first, sc, previous_sc)
                    improvement = (last - sc) / last.clamp_min(np.finfo(np.float64).tiny)
                    active = active & (first | (improvement >= problem.tol))
                previous_sc = sc
            angles, previous = next_angles, x
        ctx.problem, ctx.every, ctx.checkpoints, ctx.actives = problem, every, checkpoints, actives
        ctx.input_dtypes = (magnitude.dtype, ctx.angles_dtype, None if mixture is None else mixture.dtype)
        ctx.final_angles = angles
        y = problem.signals(angles).to(out_dtype)
        history = (torch.stack(history, dim=-1) if history
                   else torch.zeros(batch_shape + (0,), dtype=torch.float64, device=device))
        ctx.mark_non_differentiable(history)
        return y, history

    @staticmethod
    @once_differentiable
    def backward(ctx, y_bar, _history_bar):
        problem, every, actives = ctx.problem, ctx.every, ctx.actives
        dtype = problem.magnitude.dtype
        S_bar, a_bar, mixture_bar = problem.signals_adjoint(y_bar.to(dtype), ctx.final_angles)
        x_bar = None  # the gradient for x_k from iteration k + 1's momentum term
        n_run = len(actives)
        for start in sorted(ctx.checkpoints, reverse=True):
            stop = min(start + every, n_run)
            states = [ctx.checkpoints[start]]
            for k in range(start, stop - 1):
                states.append(problem.step(*states[-1], actives[k]))
            x = None  # x_k: the previous signals of state k + 1, where this segment holds it
            for k in range(stop - 1, start - 1, -1):
                angles, previous = states.pop()
                a_bar, x_bar, S_k, mixture_k = problem.step_adjoint(angles, previous, actives[k], a_bar, x_bar, x)
                x = previous
                S_bar = S_bar + S_k
                if mixture_bar is not None:
                    mixture_bar = mixture_bar + mixture_k
        magnitude_dtype, angles_dtype, mixture_dtype = ctx.input_dtypes
        grads = [S_bar.to(magnitude_dtype) if ctx.needs_input_grad[0] else None,
                 a_bar.sum_to_size(ctx.angles_shape).to(angles_dtype) if ctx.needs_input_grad[1] else None,
                 mixture_bar.squeeze(-2).to(mixture_dtype) if ctx.needs_input_grad[2] else None]
        return (*grads, None, None, None, None)
