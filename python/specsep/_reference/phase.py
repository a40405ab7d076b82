"""Phase retrieval, defined in plain NumPy: fast Griffin-Lim and MISI.

Both share one iteration: from complex estimates, go to the time domain and back, then take the
new phase with momentum (Perraudin, Balazs & Sondergaard 2013) as librosa and torchaudio do,
``c = rebuilt - alpha * rebuilt_prev`` with ``alpha = momentum / (1 + momentum)``, ``angles = c / |c|``,
where ``c`` is formed as every backend forms it, ``STFT(x_k - alpha * x_(k-1))`` of the signals of
this iteration and the previous one (Note [momentum by linearity] in ``cpp/include/specsep/phase.hpp``);
where ``c`` is at the rounding level of its frame, the angle is 1 (Note [vanishing bins] in
``cpp/include/specsep/phase.hpp``), where librosa takes the phase of the rounding noise.

The iteration runs in ``plan.dtype`` (the API's ``precision``): the magnitudes, angles, signals
and spectra are held in it, each transform rounds its result to it (``transforms.py``); the
spectral convergence is measured in float64. The result has the input's dtype.
"""

from __future__ import annotations

import numpy as np

from .._random_angles import complex_angles
from .._validate import COMPLEX_OF
from .transforms import istft, stft

# librosa's guard against dividing a zero bin by its zero modulus
_EPS = np.finfo(np.float64).tiny
# c is rounding noise where |c| <= _NOISE_ULPS * eps * (1 + alpha) * ||w x|| of its frame, eps
# that of the data's precision (Note [vanishing bins] in cpp/include/specsep/phase.hpp)
_NOISE_ULPS = 64


def frame_energy(plan, signal: np.ndarray) -> np.ndarray:
    """``sum_j (w_j x_pad[t*hop + j])**2`` of every frame ``t`` of ``signal (..., L)``: shape
    ``(..., frames)``, the squared norm that sets the rounding noise of the frame's bins."""
    squares = signal.astype(np.float64) ** 2
    if plan.center:
        pad = plan.n_fft // 2
        widths = [(0, 0)] * (signal.ndim - 1) + [(pad, pad)]
        squares = np.pad(squares, widths, mode=plan.pad_mode)
    frames = np.lib.stride_tricks.sliding_window_view(squares, plan.n_fft, axis=-1)
    frames = frames[..., : plan.n_frames(signal.shape[-1]) * plan.hop_length : plan.hop_length, :]
    return frames @ plan.window64 ** 2


def _frame_norm(plan, energy):
    """The norm of frames of squared norm ``energy`` after the transform's scale."""
    norm = np.sqrt(energy)
    return norm * plan.n_fft ** -0.5 if plan.normalized else norm


def spectral_convergence(rebuilt: np.ndarray, S: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """``|| |rebuilt| - S || / ||S||`` over ``axes`` (0 where ``S`` is all zeros)."""
    error = np.sqrt(np.sum((np.abs(rebuilt).astype(np.float64) - S) ** 2, axis=axes))
    scale = np.sqrt(np.sum(S.astype(np.float64) ** 2, axis=axes))
    return error / np.maximum(scale, _EPS)


class _Iteration:
    """Bookkeeping shared by GLA and MISI: momentum, per-item stopping, history."""

    def __init__(self, batch_shape, momentum, tol, data_dtype, dtype):
        # of the coarser of the data's and the iteration's precision (Note [vanishing bins])
        self.epsilon = max(np.finfo(data_dtype).eps, np.finfo(dtype).eps)
        self.tiny = np.finfo(dtype).tiny
        self.active = np.ones(batch_shape, dtype=bool)
        self.previous_sc = np.full(batch_shape, np.inf)
        self.previous = 0.0  # x_(k-1), zero before the first iteration (librosa's rebuilt_prev = 0)
        self.alpha = momentum / (1.0 + momentum)
        self.tol = tol
        self.history = []

    def extrapolated(self, plan, signal):
        """``c = STFT(x_k - alpha * x_(k-1))`` for the signals ``x_k`` of this iteration."""
        c = stft(plan, signal - self.alpha * self.previous)
        self.previous = signal
        return c

    def update(self, angles, accelerated, norm, sc, item_axes):
        """New unit-modulus angles ``c / |c|`` from ``accelerated`` (:meth:`extrapolated`) for the
        active items; frozen angles for the stopped ones. ``norm (..., frames)``: the frame norms of
        ``x_k``; ``sc`` is None when nothing is measured (no history asked for, no tol)."""
        modulus = np.abs(accelerated)
        floor = _NOISE_ULPS * self.epsilon * (1.0 + self.alpha) * norm[..., None, :]
        accelerated = np.where(modulus > floor, accelerated / (modulus + self.tiny), 1.0)
        if sc is None:
            return accelerated
        # the items active in this iteration take its update, including those it stops
        active = self.active.copy().reshape(self.active.shape + (1,) * item_axes)
        self.history.append(np.where(self.active, sc, np.nan))
        if self.tol is not None:
            # the first iteration has no previous value (inf): it never stops an item, and
            # inf / inf must not be evaluated (a RuntimeWarning, an error under strict warnings)
            first = np.isinf(self.previous_sc)
            previous = np.where(first, sc, self.previous_sc)
            improvement = (previous - sc) / np.maximum(previous, _EPS)
            self.active &= first | (improvement >= self.tol)
        self.previous_sc = sc
        return np.where(active, accelerated, angles)

    def history_array(self, batch_shape):
        if not self.history:
            return np.zeros(batch_shape + (0,))
        return np.stack(self.history, axis=-1)


def griffin_lim(plan, S, n_iter, momentum, angles, length, tol, history=True):
    """Fast Griffin-Lim from magnitudes ``S (..., F, T)`` and initial unit-modulus ``angles``.

    Returns ``(signal (..., length), history (..., iterations))``; the history holds the spectral
    convergence of each iteration, NaN after an item stopped on ``tol``. Without ``history`` and
    ``tol`` nothing is measured and the history has no iterations (every backend: the measurement
    is a modulus per bin per iteration).
    """
    track = history or tol is not None
    magnitude = S.astype(plan.dtype)
    angles = np.array(np.broadcast_to(complex_angles(angles), S.shape), dtype=COMPLEX_OF[plan.dtype])
    batch_shape = S.shape[:-2]
    state = _Iteration(batch_shape, momentum, tol, S.dtype, plan.dtype)
    for _ in range(n_iter):
        if not state.active.any():
            break
        signal = istft(plan, magnitude * angles, length)
        sc = spectral_convergence(stft(plan, signal), magnitude, axes=(-2, -1)) if track else None
        c = state.extrapolated(plan, signal)
        angles = state.update(angles, c, _frame_norm(plan, frame_energy(plan, signal)), sc, item_axes=2)
    signal = istft(plan, magnitude * angles, length)
    return signal.astype(S.dtype), state.history_array(batch_shape)


def misi(plan, x_mix, S, n_iter, momentum, angles, weights, tol, history=True):
    """MISI (Gunawan & Sen 2010) for mixtures ``x_mix (..., L)`` and source magnitudes
    ``S (..., J, F, T)``: each iteration inverts every source, adds ``weights[j]`` times the
    mixture error to source ``j``, and takes the new phases. The final sources are corrected the
    same way, so they sum to the mixture.

    Returns ``(sources (..., J, L), history (..., iterations))``; ``history`` as in
    :func:`griffin_lim`.
    """
    track = history or tol is not None
    length = x_mix.shape[-1]
    magnitude = S.astype(plan.dtype)
    mixture = x_mix.astype(plan.dtype)[..., None, :]
    share = np.asarray(weights, dtype=plan.dtype)[:, None]
    angles = np.array(np.broadcast_to(complex_angles(angles), S.shape), dtype=COMPLEX_OF[plan.dtype])
    batch_shape = S.shape[:-3]

    def consistent_sources(angles):
        sources = istft(plan, magnitude * angles, length)
        return sources + share * (mixture - sources.sum(axis=-2, keepdims=True))

    state = _Iteration(batch_shape, momentum, tol, S.dtype, plan.dtype)
    for _ in range(n_iter):
        if not state.active.any():
            break
        sources = consistent_sources(angles)
        sc = spectral_convergence(stft(plan, sources), magnitude, axes=(-3, -2, -1)) if track else None
        # every source carries noise at the item's scale (the mixture error is spread over them)
        norm = _frame_norm(plan, frame_energy(plan, sources).sum(axis=-2, keepdims=True))
        angles = state.update(angles, state.extrapolated(plan, sources), norm, sc, item_axes=3)
    return consistent_sources(angles).astype(x_mix.dtype), state.history_array(batch_shape)
