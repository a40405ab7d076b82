"""Phase retrieval, defined in plain NumPy: fast Griffin-Lim and MISI.

Both share one iteration (``_project``): from complex estimates, go to the time domain and back,
then take the new phase with momentum (Perraudin, Balazs & Sondergaard 2013), exactly as librosa
and torchaudio do: ``c = rebuilt - momentum / (1 + momentum) * rebuilt_prev``, ``angles = c / |c|``;
where ``c`` is at the rounding level of its frame, the angle is 1 (Note [vanishing bins] in
``cpp/include/specsep/phase.hpp``), where librosa takes the phase of the rounding noise.
"""

from __future__ import annotations

import numpy as np

from .._random_angles import complex_angles
from .transforms import istft, stft

# librosa's guard against dividing a zero bin by its zero modulus
_EPS = np.finfo(np.float64).tiny
# c is rounding noise where |c| <= _NOISE_ULPS * eps * (1 + alpha) * ||w x|| of its frame, eps
# that of the data's precision (Note [vanishing bins] in cpp/include/specsep/phase.hpp)
_NOISE_ULPS = 64


def frame_energy(plan, signal: np.ndarray) -> np.ndarray:
    """``sum_j (w_j x_pad[t*hop + j])**2`` of every frame ``t`` of ``signal (..., L)``: shape
    ``(..., frames)``, the squared norm that sets the rounding noise of the frame's bins."""
    squares = signal ** 2
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
    error = np.sqrt(np.sum((np.abs(rebuilt) - S) ** 2, axis=axes))
    scale = np.sqrt(np.sum(S ** 2, axis=axes))
    return error / np.maximum(scale, _EPS)


class _Iteration:
    """Bookkeeping shared by GLA and MISI: momentum, per-item stopping, history."""

    def __init__(self, batch_shape, momentum, tol, dtype):
        self.epsilon = np.finfo(dtype).eps  # of the data's precision (Note [vanishing bins])
        self.active = np.ones(batch_shape, dtype=bool)
        self.previous_sc = np.full(batch_shape, np.inf)
        self.rebuilt = 0.0
        self.alpha = momentum / (1.0 + momentum)
        self.tol = tol
        self.history = []

    def update(self, angles, rebuilt, norm, sc, item_axes):
        """New unit-modulus angles for the active items; frozen angles for the stopped ones.
        ``norm (..., frames)``: the frame norms of the signal ``rebuilt`` is the STFT of; ``sc``
        is None when nothing is measured (no history asked for, no tol)."""
        accelerated = rebuilt - self.alpha * self.rebuilt
        self.rebuilt = rebuilt
        modulus = np.abs(accelerated)
        floor = _NOISE_ULPS * self.epsilon * (1.0 + self.alpha) * norm[..., None, :]
        accelerated = np.where(modulus > floor, accelerated / (modulus + _EPS), 1.0)
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
    magnitude = S.astype(np.float64)
    angles = np.array(np.broadcast_to(complex_angles(angles), S.shape), dtype=np.complex128)
    batch_shape = S.shape[:-2]
    state = _Iteration(batch_shape, momentum, tol, S.dtype)
    for _ in range(n_iter):
        if not state.active.any():
            break
        signal = istft(plan, magnitude * angles, length)
        rebuilt = stft(plan, signal)
        sc = spectral_convergence(rebuilt, magnitude, axes=(-2, -1)) if track else None
        angles = state.update(angles, rebuilt, _frame_norm(plan, frame_energy(plan, signal)), sc, item_axes=2)
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
    magnitude = S.astype(np.float64)
    mixture = x_mix.astype(np.float64)[..., None, :]
    share = np.asarray(weights, dtype=np.float64)[:, None]
    angles = np.array(np.broadcast_to(complex_angles(angles), S.shape), dtype=np.complex128)
    batch_shape = S.shape[:-3]

    def consistent_sources(angles):
        sources = istft(plan, magnitude * angles, length)
        return sources + share * (mixture - sources.sum(axis=-2, keepdims=True))

    state = _Iteration(batch_shape, momentum, tol, S.dtype)
    for _ in range(n_iter):
        if not state.active.any():
            break
        sources = consistent_sources(angles)
        rebuilt = stft(plan, sources)
        sc = spectral_convergence(rebuilt, magnitude, axes=(-3, -2, -1)) if track else None
        # every source carries noise at the item's scale (the mixture error is spread over them)
        norm = _frame_norm(plan, frame_energy(plan, sources).sum(axis=-2, keepdims=True))
        angles = state.update(angles, rebuilt, norm, sc, item_axes=3)
    return consistent_sources(angles).astype(x_mix.dtype), state.history_array(batch_shape)
