"""Public transforms: validate -> plan -> backend."""

from __future__ import annotations

import numpy as np

from . import _backends
from . import _plan
from . import _transforms
from . import _validate as v
from ._arrays import as_array, callers_kind, check_same_device, namespace
from ._random_angles import RandomAngles

# ---------------------------------------------------------------------------------------------
# STFT / iSTFT


@callers_kind
def stft(x, n_fft=2048, hop_length=None, win_length=None, window="hann", center=True,
         pad_mode="constant", normalized=False, *, backend=None, chunk_frames=None, out=None):
    """Short-time Fourier transform of a batch of signals.

    Parameters
    ----------
    x : np.ndarray, shape (..., samples), float32 or float64
        Signals; leading axes are batch axes.
    n_fft : int
        FFT size, ``>= 2``.
    hop_length : int, optional
        Frame shift, ``>= 1``; default ``win_length // 4``. Longer than ``win_length`` the frames
        leave gaps, which analysis allows (the inverse transforms do not: NOLA fails).
    win_length : int, optional
        Window length ``<= n_fft`` (zero-padded, centred); default ``n_fft``.
    window : str or array_like, shape (win_length,)
        Window name (see :func:`specsep.get_window`) or values.
    center : bool
        Pad ``n_fft // 2`` samples on each side so frame ``t`` centres on sample ``t * hop_length``.
    pad_mode : {"constant", "reflect", "edge"}
        Padding used by ``center``.
    normalized : bool
        Multiply by ``n_fft ** -0.5``.
    backend : {None, "numpy", "cpu", "cuda", "cuda-emu"}
        ``None`` picks the fastest backend for the array type.
    chunk_frames : int, optional
        Compute the frames in blocks of ``chunk_frames`` frames; temporaries are then bounded by
        the block instead of the whole signal. The result equals the unchunked one (to the bit on
        ``cpu``). Default: one block, or blocks of 1024 frames when ``out`` is given.
    out : array, shape (..., n_fft // 2 + 1, frames), optional
        Where to write the result: the input's kind of array, complex of its precision, any strides.
        When it shares memory with ``x``, the result is computed into a temporary first and then
        copied in (as NumPy does for overlapping operands), so ``chunk_frames`` no longer bounds
        the memory.

    Returns
    -------
    X : np.ndarray, shape (..., n_fft // 2 + 1, frames), complex64 or complex128
        ``frames = 1 + (samples + 2 * (n_fft // 2) * center - n_fft) // hop_length``. The array is a
        transposed view of frame-major memory, as torch returns (``out`` itself when given).
    """
    x = v.as_real_array("x", x)
    plan = _plan.get(n_fft, hop_length, win_length, window, center, pad_mode, normalized, x.dtype)
    return _transforms.stft(plan, x, backend, chunk_frames, out)


@callers_kind
def istft(X, hop_length=None, win_length=None, n_fft=None, window="hann", center=True,
          normalized=False, length=None, *, backend=None, chunk_frames=None, out=None):
    """Inverse short-time Fourier transform (least-squares overlap-add).

    Parameters
    ----------
    X : np.ndarray, shape (..., n_fft // 2 + 1, frames), complex64 or complex128
        Spectrograms.
    hop_length, win_length, window, center, normalized
        As in :func:`stft`.
    n_fft : int, optional
        FFT size; default ``2 * (freq - 1)``. Give it for odd sizes.
    length : int, optional
        Output length: samples ``[n_fft // 2, n_fft // 2 + length)`` of the overlap-added signal
        when ``center`` (``[0, length)`` otherwise), zero past its end, as librosa and torch do.
        Default: the shortest length whose STFT has ``frames`` frames.
    backend : {None, "numpy", "cpu", "cuda", "cuda-emu"}
    chunk_frames : int, optional
        Compute the output in blocks of ``chunk_frames * hop_length`` samples; temporaries are
        then bounded by the block instead of the whole signal. The result equals the unchunked one (to the bit on
        ``cpu``). Default: one block, or blocks of 1024 frames when ``out`` is given.
    out : array, shape (..., length), optional
        Where to write the result: the input's kind of array, real of its precision. When it
        shares memory with ``X``, the result goes through a temporary as in :func:`stft`.

    Returns
    -------
    y : np.ndarray, shape (..., length), float32 or float64
        ``out`` itself when given.

    Raises
    ------
    ValueError
        When the window and hop violate NOLA (no inverse exists), naming both.
    """
    X = v.as_complex_array("X", X)
    if n_fft is None:
        n_fft = 2 * (X.shape[-2] - 1)
    plan = _plan.get(n_fft, hop_length, win_length, window, center, "constant", normalized,
                     v.REAL_OF[X.dtype])
    return _transforms.istft(plan, X, length, backend, chunk_frames, out)


# ---------------------------------------------------------------------------------------------
# Masks applied to a mixture


@callers_kind
def apply_mask(X_mix, M, *, backend=None):
    """Masked mixture: ``X_mix * M``, i.e. the mask times the mixture's magnitude, with its phase.

    Parameters
    ----------
    X_mix : np.ndarray, shape (..., F, T), complex64 or complex128
        Mixture spectrogram.
    M : np.ndarray, shape (..., F, T) or (..., J, F, T), float32 or float64 (same precision)
        One mask, or one per source (the mixture is broadcast over the source axis -3). Finite;
        usually in ``[0, 1]``, but any real gain is applied (a negative one flips the phase, as
        phase-sensitive masks clipped below 0 do).

    Returns
    -------
    np.ndarray, shape of the broadcast, complex of ``X_mix``'s dtype
    """
    X_mix = v.as_complex_array("X_mix", X_mix)
    M = v.check_masks_of("X_mix", X_mix, M)
    return _backends.select(backend, X_mix).apply_mask(X_mix, M)


@callers_kind
def separate(x_mix, M, n_fft=2048, hop_length=None, win_length=None, window="hann", center=True,
             pad_mode="constant", normalized=False, length=None, *, backend=None, chunk_frames=None):
    """STFT of the mixture, mask, inverse STFT, in one call.

    Parameters
    ----------
    x_mix : np.ndarray, shape (..., samples), float32 or float64
        Mixtures.
    M : np.ndarray, shape (..., J, F, T) or (..., F, T), same precision as ``x_mix``; or a callable
        Finite masks on the mixture's STFT grid (``F = n_fft // 2 + 1``, ``T`` its frame count),
        as in :func:`apply_mask`. A callable ``M(first, stop)`` returns the masks of frames
        ``[first, stop)`` only (``stop - first`` frames on the last axis): the frames that cover
        one output block (at most ``chunk_frames + ceil(n_fft / hop_length) - 1``), so that the
        masks of the whole signal never exist (e.g. masks made from the sources' STFT of the same
        frames). Every block's masks are checked as an array ``M`` is.
    n_fft, hop_length, win_length, window, center, pad_mode, normalized
        As in :func:`stft`.
    length : int, optional
        Output length; default ``samples``.
    chunk_frames : int, optional
        Separate the output in blocks of ``chunk_frames * hop_length`` samples, each from the
        mixture samples its frames read: temporaries are bounded by the block. The result equals
        the unchunked one (to the bit on ``cpu``). Default: one block.

    Returns
    -------
    np.ndarray, shape (..., J, length) (or (..., length) for one mask), float of ``x_mix``'s dtype
    """
    x_mix = v.as_real_array("x_mix", x_mix)
    v.check_samples("x_mix", x_mix)
    plan = _plan.get(n_fft, hop_length, win_length, window, center, pad_mode, normalized, x_mix.dtype)
    n_frames = plan.n_frames(x_mix.shape[-1])
    v.warn_if_shorter_than_frame("x_mix", x_mix, plan.n_fft)
    if callable(M):
        M = v.checking_block_masks(M, x_mix, plan.n_freqs)
    else:
        M = v.check_masks_of("x_mix", x_mix, M, x_mix.shape[:-1] + (plan.n_freqs, n_frames))
    length = x_mix.shape[-1] if length is None else v.check_optional_length(length)
    plan.check_invertible()
    chunk_frames = v.check_chunk_frames(chunk_frames, None)
    return _transforms.separate(plan, x_mix, M, n_frames, length, backend, chunk_frames)


# ---------------------------------------------------------------------------------------------
# Phase retrieval


def _initial_angles(init, shape, rng, phase_of_mixture=None):
    """Unit-modulus complex128 angles broadcastable to ``shape``, or a RandomAngles of ``shape``."""
    if isinstance(init, str):
        choices = ("random", "zeros") + (("mixture",) if phase_of_mixture is not None else ())
        v.check_choice("init", init, choices)
        if init == "random":
            if rng is not None and not isinstance(rng, (int, np.integer, np.random.Generator)) or isinstance(rng, bool):
                raise TypeError(f"rng must be None, an int seed or a numpy.random.Generator, got {type(rng).__name__}")
            return RandomAngles(np.random.default_rng(rng).random(shape))
        if init == "zeros":  # one value, broadcast: no memory per bin
            return np.ones((1,) * len(shape), dtype=np.complex128)
        return phase_of_mixture()
    values = as_array(init)  # NumPy, or the device array of phase_of_mixture on cuda
    xp = namespace(values)
    if values.dtype.kind not in "fc":
        raise TypeError(f"init must be 'random', 'zeros', a complex array or an array of phases, got dtype {values.dtype}")
    try:
        np.broadcast_shapes(values.shape, shape)
    except ValueError:
        raise ValueError(f"init of shape {values.shape} does not broadcast to the spectrogram shape {shape}") from None
    if not bool(xp.all(xp.isfinite(values))):
        raise ValueError("init contains NaN or Inf")
    if values.dtype.kind == "f":
        return xp.exp(1j * values.astype(np.float64))
    modulus = xp.abs(values)
    return xp.where(modulus > 0, values / xp.where(modulus > 0, modulus, 1.0), 1.0).astype(np.complex128)


# Note [phase retrieval precision]: Griffin-Lim and MISI iterate in the input's precision by
# default, as librosa and torchaudio do; precision="float64" iterates in float64 whatever the input
# (the definition the tests compare sample by sample). The float32 iterates part from the float64
# ones by ~1e-5 after one iteration and ~1e-3 after 32 on music: c / |c| is ill-conditioned where
# the rebuilt spectrum nearly vanishes and the target does not, so any rounding grows there (librosa's
# float32 iterates drift the same way). What users judge, the spectral convergence reached and the
# sound, is the same: 32 iterations on W4 (4 x 10 s, n_fft 1024) reach 0.07830 either way, on
# ../shared/music's stems (2 x 4 x 8 s, n_fft 2048) GLA 0.06180 and MISI 0.02078 either way, while
# the cpu backend's float32 loop took 0.32 s against 0.57 s (W4), 1.0 s against 1.9 s (GLA) and
# 1.3 s against 2.5 s (MISI) on the 2 shared cores of the development machine.
def _iteration_plan(plan, precision):
    """``plan`` in the precision Griffin-Lim and MISI iterate in: the data's for ``None`` (Note
    [phase retrieval precision])."""
    dtype = v.check_precision(precision)
    return plan if dtype is None else plan.with_dtype(dtype)


def _vanishing_bins_to_one(plan, X):
    """``X = STFT(x)`` with 1 in the bins at the rounding level of their frame: their phase is
    noise, different on every backend (Note [vanishing bins] in cpp/include/specsep/phase.hpp).
    The floor is 64 ulps of the frame's norm ``||w x||``, from its bins by Parseval."""
    xp = namespace(X)
    norm = xp.sqrt(2 * xp.sum(X.real ** 2 + X.imag ** 2, axis=-2, keepdims=True) / plan.n_fft)
    return xp.where(xp.abs(X) > 64 * np.finfo(plan.dtype).eps * norm, X, X.dtype.type(1))


@callers_kind
def griffin_lim(S, n_iter=32, hop_length=None, win_length=None, n_fft=None, window="hann",
                center=True, pad_mode="constant", length=None, momentum=0.99, init="random",
                rng=None, tol=None, return_history=False, *, precision=None, unstable_momentum=False, backend=None):
    """Signal whose STFT magnitude approaches ``S``: fast Griffin-Lim.

    Fast Griffin-Lim (Perraudin, Balazs & Sondergaard 2013) with the update librosa and torchaudio
    use: ``c = rebuilt - momentum / (1 + momentum) * rebuilt_prev``, new phase ``c / |c|``.
    ``momentum=0`` is the original algorithm of Griffin & Lim (1984).

    Parameters
    ----------
    S : np.ndarray, shape (..., F, T), float32 or float64, non-negative and finite
        Target magnitudes.
    n_iter : int
        Iterations, ``>= 0``.
    hop_length, win_length, window, center, pad_mode
        As in :func:`stft`.
    n_fft : int, optional
        Default ``2 * (F - 1)``.
    length : int, optional
        Output length; default as :func:`istft`. With ``n_iter > 0`` its STFT must have the
        frame count of ``S``, since each iteration compares the two.
    momentum : float
        In ``[0, 1)``; any value ``>= 0`` with ``unstable_momentum=True``.
    init : {"random", "zeros"} or array_like
        Initial phases: uniform on the circle (seeded by ``rng``), all zero (so that
        ``init="zeros"`` equals ``librosa.griffinlim(S, init=None)``), a complex array (its phase is
        used) or real phase angles in radians; arrays broadcast to ``S``.
    rng : None, int or numpy.random.Generator
        Seed for ``init="random"``.
    tol : float, optional
        Stop each batch item once the relative improvement of its spectral convergence
        ``|| |STFT(y)| - S || / ||S||`` over one iteration falls under ``tol``; the others go on.
    return_history : bool
        Also return the spectral convergence of every iteration.
    precision : {None, "float32", "float64"}
        The precision of the iterations: ``None``, that of ``S`` (as librosa and torchaudio);
        the output is of ``S``'s dtype either way. For float32 ``S``, float32 iterations ran
        ~1.8x faster on the cpu backend (0.32 s against 0.57 s for 4 x 10 s, n_fft 1024, 32
        iterations) and reached the same spectral convergence (0.07830); their samples part
        from the float64 iterates by ~1e-3 after 32 iterations, as librosa's do. ``"float64"``
        reproduces the float64 definition sample by sample.
    unstable_momentum : bool
        Accept ``momentum >= 1`` (librosa warns and runs it): the extrapolation then usually
        diverges, but some users tune it on purpose.

    Returns
    -------
    y : np.ndarray, shape (..., length), float of ``S``'s dtype
    history : np.ndarray, shape (..., iterations), float64
        Only with ``return_history``; entries after an item stopped are NaN.
    """
    S = v.check_magnitudes("S", S, min_ndim=2)
    n_iter, momentum, tol = v.check_iteration(n_iter, momentum, tol, unstable_momentum)
    if n_fft is None:
        n_fft = 2 * (S.shape[-2] - 1)
    plan = _plan.get(n_fft, hop_length, win_length, window, center, pad_mode, False, S.dtype)
    iteration_plan, length = _griffin_lim_checks(plan, S, n_iter, length, precision, return_history)
    angles = _initial_angles(init, S.shape, rng)
    check_same_device(S=S, init=None if isinstance(angles, RandomAngles) else angles)
    y, history = _backends.select(backend, S).griffin_lim(iteration_plan, S, n_iter, momentum, angles, length, tol,
                                                          history=return_history)
    return (y, history) if return_history else y


def _griffin_lim_checks(plan, S, n_iter, length, precision, return_history):
    """griffin_lim's checks against its plan (here and in specsep.torch): the iteration plan and
    the output length."""
    iteration_plan = _iteration_plan(plan, precision)
    v.check_spectrogram(plan, S, "S")
    length = v.check_optional_length(length)
    if n_iter > 0:
        v.check_iterated_length(plan, length, S.shape[-1])
    length = plan.istft_length(S.shape[-1]) if length is None else length
    plan.check_invertible()
    v.check_bool("return_history", return_history)
    return iteration_plan, length


def _misi_sources_of(S, mixture_shape):
    """Refuses source magnitudes ``S`` (..., J, F, T) whose batch axes are not the mixture's."""
    if S.shape[:-3] != tuple(mixture_shape[:-1]):
        raise ValueError(
            f"S_sources has batch shape {S.shape[:-3]} but x_mix has {tuple(mixture_shape[:-1])}; "
            "S_sources must be (..., J, F, T) for x_mix (..., samples)"
        )


def _misi_checks(plan, S, n_samples, precision):
    """misi's checks against its plan (here and in specsep.torch): the iteration plan."""
    v.check_spectrogram(plan, S, "S_sources")
    if S.shape[-1] != plan.n_frames(n_samples):
        raise ValueError(
            f"S_sources has {S.shape[-1]} frames but the STFT of x_mix ({n_samples} samples) "
            f"has {plan.n_frames(n_samples)}"
        )
    plan.check_invertible()
    return _iteration_plan(plan, precision)


@callers_kind
def misi(x_mix, S_sources, n_iter=32, momentum=0.0, init="mixture", weights=None, length=None,
         tol=None, return_history=False, n_fft=None, hop_length=None, win_length=None,
         window="hann", center=True, pad_mode="constant", rng=None, *, precision=None, unstable_momentum=False,
         backend=None):
    """Multiple input spectrogram inversion (Gunawan & Sen 2010).

    Each iteration gives every source its target magnitude with its current phase, inverts it, and
    adds a share of the mixture error ``x_mix - sum_j y_j`` to source ``j``; the new phases come
    from the STFT of the corrected sources (with fast Griffin-Lim momentum when ``momentum > 0``).
    The returned sources sum to the mixture to float precision.

    Parameters
    ----------
    x_mix : np.ndarray, shape (..., samples), float32 or float64
        Mixtures.
    S_sources : np.ndarray, shape (..., J, F, T), same dtype, non-negative and finite
        Target magnitude of each source on the mixture's STFT grid.
    n_iter : int
        Iterations, ``>= 0``.
    momentum : float
        In ``[0, 1)``; any value ``>= 0`` with ``unstable_momentum=True``.
    init : {"mixture", "random", "zeros"} or array_like
        Initial phases: the mixture's (default), random (seeded by ``rng``), zero, or an array as in
        :func:`griffin_lim`.
    weights : array_like, shape (J,), optional
        Share of the mixture error each source receives; non-negative, summing to 1.
        Default ``1 / J`` each.
    length : int, optional
        The mixture is trimmed or zero-padded to ``length`` first; default ``samples``.
    tol, return_history, rng, precision, unstable_momentum
        As in :func:`griffin_lim` (the spectral convergence is taken over all sources of an item;
        ``precision=None`` iterates in ``x_mix``'s: 32 float32 iterations over 2 x 4 stems of
        8 s ran in 1.3 s against 2.5 s in float64 on the cpu backend, both reaching 0.02078).
    n_fft, hop_length, win_length, window, center, pad_mode
        As in :func:`stft`; ``n_fft`` defaults to ``2 * (F - 1)``.

    Returns
    -------
    sources : np.ndarray, shape (..., J, length), float of ``x_mix``'s dtype
    history : np.ndarray, shape (..., iterations), float64
        Only with ``return_history``.
    """
    x_mix = v.as_real_array("x_mix", x_mix)
    v.check_finite("x_mix", x_mix)
    S = v.check_magnitudes("S_sources", S_sources, min_ndim=3)
    v.check_same_precision("S_sources", S, x_mix.dtype, "x_mix")
    check_same_device(x_mix=x_mix, S_sources=S)
    n_iter, momentum, tol = v.check_iteration(n_iter, momentum, tol, unstable_momentum)
    v.check_bool("return_history", return_history)
    _misi_sources_of(S, x_mix.shape)
    length = v.check_optional_length(length)
    if length is not None:
        x_mix = _transforms.fit_length(x_mix, length)
    weights = v.check_weights(weights, S.shape[-3])
    if n_fft is None:
        n_fft = 2 * (S.shape[-2] - 1)
    plan = _plan.get(n_fft, hop_length, win_length, window, center, pad_mode, False, x_mix.dtype)
    iteration_plan = _misi_checks(plan, S, x_mix.shape[-1], precision)
    chosen = _backends.select(backend, x_mix)

    def phase_of_mixture():
        X = _vanishing_bins_to_one(plan, _transforms.stft(plan, x_mix, backend))
        return _initial_angles(np.expand_dims(X, -3), S.shape, None)

    angles = _initial_angles(init, S.shape, rng, phase_of_mixture)
    check_same_device(S_sources=S, init=None if isinstance(angles, RandomAngles) else angles)
    sources, history = chosen.misi(iteration_plan, x_mix, S, n_iter, momentum, angles, weights, tol,
                                   history=return_history)
    return (sources, history) if return_history else sources
