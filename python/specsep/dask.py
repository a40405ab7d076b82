"""specsep over Dask arrays: :func:`stft`, :func:`istft` and :func:`separate` mapped over blocks
of the batch axes.

Each block of batch items is one call of the in-memory function on a worker, with whatever backend
that worker picks (``backend=None``: the fastest for its arrays) or the one given. The signal,
frequency, frame and source axes must each be one chunk: they are rechunked to one when they are
not (a block needs the whole signal of its items). Parameters are checked here, before any task
is built, with the in-memory functions' errors.

Needs ``dask[array]`` (``pip install "specsep[dask]"``); runs on any Dask scheduler, a
``dask.distributed`` cluster included (the plans and functions pickle).

GPUs: a Dask array whose chunks are CuPy arrays runs each block on the cuda backend of the worker
that holds it (``backend=None`` picks it by the chunks' kind), and the results' chunks are CuPy
arrays; NumPy chunks with ``backend="cuda"`` are moved to the worker's GPU in blocks and back.
One GPU per worker is dask-cuda's convention (``LocalCUDACluster`` sets ``CUDA_VISIBLE_DEVICES``
of each worker to its own device first): docs/gpu-offline.md has the example.

Examples
--------
>>> import dask.array as da
>>> x = da.random.default_rng(0).standard_normal((64, 2, 441000), chunks=(8, 2, -1)).astype("float32")
>>> X = specsep.dask.stft(x, n_fft=2048, hop_length=512)   # (64, 2, 1025, 862), 8 items a task
>>> y = specsep.dask.istft(X, n_fft=2048, hop_length=512, length=441000).compute()
"""

from __future__ import annotations

import functools

import numpy as np

from . import _plan
from . import _validate as v
from . import api


def _dask_array():
    try:
        import dask.array
    except ImportError:
        raise ImportError('specsep.dask needs dask: pip install "specsep[dask]"') from None
    return dask.array


def _as_dask(name, array, core_axes):
    """``array`` as a Dask array whose last ``core_axes`` axes are one chunk each."""
    da = _dask_array()
    if not isinstance(array, da.Array):
        raise TypeError(f"{name} must be a dask.array.Array, got {type(array).__name__} "
                        "(specsep's own functions take in-memory arrays)")
    if array.ndim < core_axes:
        raise ValueError(f"{name} must have at least {core_axes} dimension(s), got shape {array.shape}")
    return array.rechunk({axis: -1 for axis in range(array.ndim - core_axes, array.ndim)})


def _meta(array, ndim, dtype):
    """An empty array of ``array``'s chunk kind (NumPy, CuPy, ...): the meta of a result."""
    return np.empty_like(array._meta, shape=(0,) * ndim, dtype=dtype)


def _batch_indices(ndim):
    return tuple(f"b{i}" for i in range(ndim))


def _plan_of(name, n_fft, hop_length, win_length, window, center, pad_mode, normalized, dtype):
    dtype = np.dtype(dtype)
    if dtype not in v.REAL_DTYPES:
        raise TypeError(f"{name} has dtype {dtype}; specsep accepts float32 or float64")
    return _plan.get(n_fft, hop_length, win_length, window, center, pad_mode, normalized, dtype)


def stft(x, n_fft=2048, hop_length=None, win_length=None, window="hann", center=True,
         pad_mode="constant", normalized=False, *, backend=None):
    """:func:`specsep.stft` of a Dask array, block by block along the batch axes.

    Parameters
    ----------
    x : dask.array.Array, shape (..., samples), float32 or float64
        Signals, chunked along the batch axes (the sample axis is made one chunk).
    n_fft, hop_length, win_length, window, center, pad_mode, normalized, backend
        As in :func:`specsep.stft`.

    Returns
    -------
    dask.array.Array, shape (..., n_fft // 2 + 1, frames), complex64 or complex128
        Lazy; chunked as ``x`` along the batch axes.
    """
    x = _as_dask("x", x, 1)
    plan = _plan_of("x", n_fft, hop_length, win_length, window, center, pad_mode, normalized, x.dtype)
    n_frames = plan.n_frames(x.shape[-1])
    batch = _batch_indices(x.ndim - 1)
    return _dask_array().blockwise(
        functools.partial(_stft_block, plan=plan, backend=backend), batch + ("f", "t"), x, batch + ("n",),
        new_axes={"f": plan.n_freqs, "t": n_frames}, concatenate=True,
        meta=_meta(x, x.ndim + 1, v.COMPLEX_OF[x.dtype]))


def _stft_block(x, plan, backend):
    return plan.forward(x, backend=backend)


def istft(X, hop_length=None, win_length=None, n_fft=None, window="hann", center=True,
          normalized=False, length=None, *, backend=None):
    """:func:`specsep.istft` of a Dask array, block by block along the batch axes.

    Parameters
    ----------
    X : dask.array.Array, shape (..., n_fft // 2 + 1, frames), complex64 or complex128
        Spectrograms, chunked along the batch axes.
    hop_length, win_length, n_fft, window, center, normalized, length, backend
        As in :func:`specsep.istft`.

    Returns
    -------
    dask.array.Array, shape (..., length), float32 or float64
    """
    X = _as_dask("X", X, 2)
    if X.dtype not in v.REAL_OF:
        raise TypeError(f"X must be a complex spectrogram (complex64 or complex128), got dtype {X.dtype}")
    if n_fft is None:
        n_fft = 2 * (X.shape[-2] - 1)
    plan = _plan_of("X", n_fft, hop_length, win_length, window, center, "constant", normalized, v.REAL_OF[X.dtype])
    v.check_spectrogram(plan, X)
    plan.check_invertible()
    length = plan.istft_length(X.shape[-1]) if length is None else v.check_length("length", length)
    batch = _batch_indices(X.ndim - 2)
    return _dask_array().blockwise(
        functools.partial(_istft_block, plan=plan, length=length, backend=backend), batch + ("l",),
        X, batch + ("f", "t"), new_axes={"l": length}, concatenate=True,
        meta=_meta(X, X.ndim - 1, plan.dtype))


def _istft_block(X, plan, length, backend):
    return plan.inverse(X, length, backend=backend)


def separate(x_mix, M, n_fft=2048, hop_length=None, win_length=None, window="hann", center=True,
             pad_mode="constant", normalized=False, length=None, *, backend=None):
    """:func:`specsep.separate` of Dask arrays, block by block along the batch axes.

    Parameters
    ----------
    x_mix : dask.array.Array, shape (..., samples), float32 or float64
        Mixtures.
    M : dask.array.Array, shape (..., J, F, T) or (..., F, T), same precision
        Masks, one per source, or one mask (without a source axis), told apart by rank as in
        :func:`specsep.separate`; the batch axes broadcast against ``x_mix``'s and their chunks
        are aligned.
    n_fft, hop_length, win_length, window, center, pad_mode, normalized, length, backend
        As in :func:`specsep.separate`.

    Returns
    -------
    dask.array.Array, shape (..., J, length) (or (..., length) for one mask), float of ``x_mix``'s dtype
    """
    da = _dask_array()
    x_mix = _as_dask("x_mix", x_mix, 1)
    M = _as_dask("M", M, 2)
    if M.ndim not in (x_mix.ndim + 1, x_mix.ndim + 2):
        raise ValueError(f"M must have shape (..., F, T) or (..., J, F, T) for a mixture of shape "
                         f"{x_mix.shape}, got {M.shape}")
    single = M.ndim == x_mix.ndim + 1  # one mask, no source axis
    if single:
        M = M[..., None, :, :]
    plan = _plan_of("x_mix", n_fft, hop_length, win_length, window, center, pad_mode, normalized, x_mix.dtype)
    if M.dtype != x_mix.dtype:
        raise TypeError(f"M has dtype {M.dtype} but x_mix is {x_mix.dtype}; specsep never mixes precisions silently")
    n_frames = plan.n_frames(x_mix.shape[-1])
    if M.shape[-2:] != (plan.n_freqs, n_frames):
        raise ValueError(f"M has (freq, frames) = {M.shape[-2:]}, the mixture {(plan.n_freqs, n_frames)}")
    plan.check_invertible()
    length = x_mix.shape[-1] if length is None else v.check_length("length", length)
    try:
        batch_shape = np.broadcast_shapes(x_mix.shape[:-1], M.shape[:-3])
    except ValueError:
        raise ValueError(f"M of shape {M.shape} does not broadcast against x_mix of shape {x_mix.shape}") from None
    x_mix = da.broadcast_to(x_mix, batch_shape + x_mix.shape[-1:])
    M = da.broadcast_to(M, batch_shape + M.shape[-3:])
    batch = _batch_indices(len(batch_shape))
    y = da.blockwise(
        functools.partial(_separate_block, plan=plan, length=length, backend=backend), batch + ("j", "l"),
        x_mix, batch + ("n",), M, batch + ("j", "f", "t"), new_axes={"l": length}, concatenate=True,
        meta=_meta(x_mix, len(batch_shape) + 2, x_mix.dtype))
    return y[..., 0, :] if single else y


def _separate_block(x_mix, M, plan, length, backend):
    return api.separate(x_mix, M, plan.n_fft, plan.hop_length, plan.win_length, plan.window_spec, plan.center,
                        plan.pad_mode, plan.normalized, length, backend=backend)
