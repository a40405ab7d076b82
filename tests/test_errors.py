"""The error catalogue: every public function refuses bad input with a clear, named message.

Each row is ``(callable, args, kwargs, exception type, message regex)``; the regex pins the argument
name and the rule, so that a vaguer message (or a crash deeper inside) fails the test. Every row runs
with the default backend; the rows of functions that take ``backend=`` run again on every host
backend (numpy, cpu, cuda-emu) with that backend's entry points replaced by tripwires, so each error
is shown to come before any kernel on every backend.
"""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

import specsep
from specsep import masks, metrics

N_FFT = 64
HOP = 16
x = np.zeros(256)                                       # float64 signal
x32 = np.zeros(256, dtype=np.float32)
X = np.zeros((N_FFT // 2 + 1, 17), dtype=np.complex128)  # its spectrogram shape (33, 17)
X32 = X.astype(np.complex64)
S = np.ones(X.shape)                                    # magnitudes
S_src = np.ones((2,) + X.shape)                         # (J=2, F, T) magnitudes
X_src = np.ones((2,) + X.shape, dtype=np.complex128)    # (J=2, F, T) complex sources
M = np.ones((2,) + X.shape)                             # (J=2, F, T) masks
REF = np.zeros((2, 100))
EST = np.zeros((2, 100))
PLAN = specsep.STFT(N_FFT, HOP, dtype=np.float64)
PLAN32 = specsep.STFT(N_FFT, HOP, dtype=np.float32)

STFT_KW = dict(n_fft=N_FFT, hop_length=HOP)
VALID_WINDOWS = r"'hann', 'sqrt_hann', 'hamming', 'blackman', 'triangle', 'rectangular'"
VALID_PADS = r"'constant', 'reflect', 'edge'"
# integers, bools, half and extended precision, Python objects and strings: refused, never truncated
BAD_DTYPES = [np.int16, np.int64, np.bool_, np.float16, np.longdouble, object, np.str_]
ACCEPTED_DTYPES = r"(?:float32 or float64|complex64 or complex128)"
NOLA_HANN = (r"window='hann' \(win_length=64, n_fft=64\) with hop_length=64 violates NOLA: .*"
             r"hop_length=63 would work")
# A host (NumPy) array with backend="cuda" runs on the GPU where one is usable (staged in blocks:
# test_host_arrays.py, test_gpu.py) and is refused as an unavailable backend elsewhere: those rows
# run where no GPU is (test_gpu.py covers a device array with a host backend).
CUDA_REFUSAL = r"backend='cuda' is not available"
_GPU_HERE = "cuda" in specsep.available_backends()


def case(fn, args, kwargs, exc, match, id):
    marks = pytest.mark.skipif(_GPU_HERE, reason="a GPU is usable: backend='cuda' takes host arrays") \
        if match is CUDA_REFUSAL else ()
    return pytest.param(fn, args, kwargs, exc, match, id=id, marks=marks)


def dtype_cases(fn, position, make, name, other_args=(), kwargs=None, prefix=None):
    """One row per bad dtype of the array at ``position``; the message must name the argument, the
    dtype it got and the dtypes it accepts."""
    rows = []
    for bad in BAD_DTYPES:
        array = make(bad)
        args = list(other_args)
        args.insert(position, array)
        label = "str" if array.dtype.kind == "U" else array.dtype.name
        match = rf"(?=.*\b{re.escape(name)}\b.*{re.escape(str(array.dtype))})(?=.*{ACCEPTED_DTYPES})"
        rows.append(case(fn, tuple(args), kwargs or {}, TypeError, match, f"{prefix or fn.__name__}-{name}-{label}"))
    return rows


def _array(shape):
    return lambda dtype: np.zeros(shape, dtype=dtype)


CASES = [
    # ---- stft -------------------------------------------------------------------------------
    case(specsep.stft, (np.float64(1.0),), {}, ValueError, r"x must have at least 1 dimension", "stft-0d"),
    case(specsep.stft, (x.astype(complex),), STFT_KW, TypeError, r"x must be real", "stft-complex"),
    *dtype_cases(specsep.stft, 0, _array(256), "x", kwargs=STFT_KW),
    case(specsep.stft, (np.zeros((2, 0)),), STFT_KW, ValueError, r"x must have at least one sample", "stft-empty"),
    case(specsep.stft, (x,), dict(n_fft=1), ValueError, r"n_fft=1 must be >= 2", "stft-n_fft-1"),
    case(specsep.stft, (x,), dict(n_fft=0), ValueError, r"n_fft=0 must be >= 2", "stft-n_fft-0"),
    case(specsep.stft, (x,), dict(n_fft=64.0), TypeError, r"n_fft must be an integer, got float", "stft-n_fft-float"),
    case(specsep.stft, (x,), dict(n_fft=True), TypeError, r"n_fft must be an integer, got bool", "stft-n_fft-bool"),
    case(specsep.stft, (x,), dict(n_fft=N_FFT, hop_length=0), ValueError, r"hop_length=0 must be >= 1", "stft-hop-0"),
    case(specsep.stft, (x,), dict(n_fft=N_FFT, hop_length=2.0), TypeError, r"hop_length must be an integer",
         "stft-hop-float"),
    case(specsep.stft, (x,), dict(n_fft=N_FFT, hop_length=True), TypeError, r"hop_length must be an integer, got bool",
         "stft-hop-bool"),
    case(specsep.istft, (X,), dict(n_fft=N_FFT, hop_length=65), ValueError,
         r"window='hann' \(win_length=64, n_fft=64\) with hop_length=65 violates NOLA: .*hop_length=63 would work",
         "istft-hop-gt-win"),
    case(specsep.griffin_lim, (S,), dict(win_length=32, hop_length=33), ValueError,
         r"\(win_length=32, n_fft=64\) with hop_length=33 violates NOLA", "gla-hop-gt-short-win"),
    case(specsep.stft, (x,), dict(n_fft=N_FFT, win_length=65), ValueError, r"win_length=65 must be <= 64",
         "stft-win-gt-n_fft"),
    case(specsep.stft, (x,), dict(n_fft=N_FFT, win_length=0), ValueError, r"win_length=0 must be >= 1", "stft-win-0"),
    case(specsep.stft, (x,), dict(n_fft=N_FFT, window=np.ones(10)), ValueError,
         r"window has 10 points but win_length=64", "stft-window-length"),
    case(specsep.stft, (x,), dict(n_fft=N_FFT, win_length=32, window=np.ones(64)), ValueError,
         r"window has 64 points but win_length=32", "stft-window-length-vs-win"),
    case(specsep.stft, (x,), dict(n_fft=N_FFT, window=np.r_[np.ones(63), np.nan]), ValueError,
         r"window must contain only finite values", "stft-window-nan"),
    case(specsep.stft, (x,), dict(n_fft=N_FFT, window=np.r_[np.ones(63), np.inf]), ValueError,
         r"window must contain only finite values", "stft-window-inf"),
    case(specsep.stft, (x,), dict(n_fft=N_FFT, window=np.ones((2, 32))), ValueError,
         r"window must be a non-empty 1-D array", "stft-window-2d"),
    case(specsep.stft, (x,), dict(n_fft=N_FFT, window=np.ones(64, dtype=complex)), TypeError,
         r"window must be a window name or a real 1-D array", "stft-window-complex"),
    case(specsep.stft, (x,), dict(n_fft=N_FFT, window=np.ones(64, dtype=bool)), TypeError,
         r"window must be a window name or a real 1-D array", "stft-window-bool"),
    case(specsep.stft, (x,), dict(n_fft=N_FFT, window="kaiser"), ValueError,
         rf"window='kaiser' is not one of {VALID_WINDOWS}", "stft-window-unknown"),
    case(specsep.stft, (x,), dict(n_fft=N_FFT, window="Hann"), ValueError, r"window='Hann' is not one of",
         "stft-window-case"),
    case(specsep.stft, (x,), dict(n_fft=N_FFT, pad_mode="wrap"), ValueError,
         rf"pad_mode='wrap' is not one of {VALID_PADS}", "stft-pad-unknown"),
    case(specsep.stft, (x,), dict(n_fft=N_FFT, center="yes"), TypeError, r"center must be a bool", "stft-center"),
    case(specsep.stft, (x,), dict(n_fft=N_FFT, normalized=1), TypeError, r"normalized must be a bool",
         "stft-normalized"),
    case(specsep.stft, (np.zeros(63),), dict(n_fft=N_FFT, center=False), ValueError,
         r"signal of 63 samples is shorter than n_fft=64 with center=False", "stft-short-uncentered"),
    case(specsep.stft, (x,), dict(n_fft=N_FFT, backend="foo"), ValueError,
         r"backend='foo' is not one of 'numpy', 'cpu', 'cuda', 'cuda-emu'", "stft-backend-unknown"),
    case(specsep.stft, (x,), dict(n_fft=N_FFT, backend="cuda"), ValueError, CUDA_REFUSAL,
         "stft-backend-cuda"),
    case(specsep.stft, (x,), dict(n_fft=N_FFT, backend=1), ValueError, r"backend=1 is not one of",
         "stft-backend-int"),
    case(specsep.stft, (x,), dict(STFT_KW, chunk_frames=0), ValueError, r"chunk_frames=0 must be >= 1",
         "stft-chunk_frames-0"),
    case(specsep.stft, (x,), dict(STFT_KW, out=np.zeros((33, 16), complex)), ValueError,
         r"out has shape \(33, 16\), the result has shape \(33, 17\)", "stft-out-shape"),
    # ---- istft ------------------------------------------------------------------------------
    case(specsep.istft, (S,), {}, TypeError, r"X must be a complex spectrogram .* got dtype float64", "istft-real"),
    case(specsep.istft, (np.zeros(33, dtype=complex),), {}, ValueError, r"X must have at least 2 dimensions",
         "istft-1d"),
    *dtype_cases(specsep.istft, 0, _array(X.shape), "X", kwargs=dict(hop_length=HOP)),
    case(specsep.istft, (X.astype(np.clongdouble),), {}, TypeError, r"X must be a complex spectrogram",
         "istft-clongdouble"),
    case(specsep.istft, (np.zeros((33, 0), dtype=complex),), {}, ValueError, r"X must have at least one frame",
         "istft-no-frames"),
    case(specsep.istft, (X,), dict(n_fft=128), ValueError,
         r"X has 33 frequency bins, which implies n_fft=64 or 65, not n_fft=128", "istft-freq-mismatch"),
    case(specsep.istft, (X,), dict(n_fft=N_FFT, hop_length=HOP, length=-1), ValueError, r"length=-1 must be >= 0",
         "istft-length-negative"),
    case(specsep.istft, (X,), dict(n_fft=N_FFT, hop_length=HOP, length=2**64), ValueError,
         r"length=18446744073709551616 must be <= \d+", "istft-length-huge"),
    case(specsep.istft, (X,), dict(n_fft=N_FFT, hop_length=HOP, length=10.0), TypeError,
         r"length must be an integer", "istft-length-float"),
    case(specsep.istft, (X,), dict(n_fft=N_FFT, hop_length=N_FFT), ValueError, NOLA_HANN, "istft-nola"),
    case(specsep.istft, (X,), dict(n_fft=N_FFT, hop_length=32, win_length=32, window="sqrt_hann"), ValueError,
         r"window='sqrt_hann' \(win_length=32, n_fft=64\) with hop_length=32 violates NOLA: .*hop_length=31 would work",
         "istft-nola-short-window"),
    case(specsep.istft, (X,), dict(n_fft=N_FFT, hop_length=HOP, window=np.where(np.arange(64) % 16 == 0, 0.0, 1.0)), ValueError,
         r"the given window.*hop_length=16 violates NOLA", "istft-nola-array-window"),
    case(specsep.istft, (X,), dict(hop_length=0), ValueError, r"hop_length=0 must be >= 1", "istft-hop-0"),
    case(specsep.istft, (X,), dict(window="foo"), ValueError, rf"window='foo' is not one of {VALID_WINDOWS}",
         "istft-window-unknown"),
    case(specsep.istft, (X,), dict(backend="foo"), ValueError, r"backend='foo' is not one of", "istft-backend-unknown"),
    case(specsep.istft, (X,), dict(backend="cuda"), ValueError, CUDA_REFUSAL,
         "istft-backend-cuda"),
    case(specsep.istft, (X,), dict(STFT_KW, length=256, out=np.zeros(256, np.float32)), TypeError,
         r"out has dtype float32, the result is float64", "istft-out-dtype"),
    case(specsep.istft, (X,), dict(STFT_KW, chunk_frames=1.5), TypeError, r"chunk_frames must be an integer",
         "istft-chunk_frames-float"),
    # ---- STFT plan --------------------------------------------------------------------------
    case(specsep.STFT, (1,), {}, ValueError, r"n_fft=1 must be >= 2", "STFT-n_fft"),
    case(specsep.STFT, (64.5,), {}, TypeError, r"n_fft must be an integer", "STFT-n_fft-float"),
    case(specsep.STFT, (N_FFT, 0), {}, ValueError, r"hop_length=0 must be >= 1", "STFT-hop-0"),
    case(specsep.STFT, (N_FFT,), dict(dtype=np.int16), TypeError, r"dtype must be float32 or float64", "STFT-dtype"),
    case(specsep.STFT, (N_FFT,), dict(pad_mode="symmetric"), ValueError, rf"pad_mode='symmetric' is not one of {VALID_PADS}",
         "STFT-pad"),
    case(PLAN.forward, (x32,), {}, TypeError, r"x has dtype float32 but the plan is float64-based", "STFT-forward-precision"),
    case(PLAN32.forward, (x,), {}, TypeError, r"x has dtype float64 but the plan is float32-based",
         "STFT-forward-precision32"),
    case(PLAN.forward, (x.astype(complex),), {}, TypeError, r"x must be real", "STFT-forward-complex"),
    case(PLAN.forward, (np.float64(1),), {}, ValueError, r"x must have at least 1 dimension", "STFT-forward-0d"),
    case(PLAN.forward, (x,), dict(backend="cuda"), ValueError, CUDA_REFUSAL, "STFT-forward-backend"),
    case(PLAN.inverse, (X32,), {}, TypeError, r"X has dtype complex64 but the plan is float64-based",
         "STFT-inverse-precision"),
    case(PLAN.inverse, (S,), {}, TypeError, r"X must be a complex spectrogram", "STFT-inverse-real"),
    case(PLAN.inverse, (np.zeros((65, 4), complex),), {}, ValueError, r"implies n_fft=128 or 129, not n_fft=64",
         "STFT-inverse-freq"),
    case(PLAN.inverse, (X,), dict(length=-5), ValueError, r"length=-5 must be >= 0", "STFT-inverse-length"),
    case(PLAN.inverse, (X,), dict(backend="cuda"), ValueError, CUDA_REFUSAL,
         "STFT-inverse-backend"),
    case(specsep.STFT(N_FFT, N_FFT, window="hann", dtype=np.float64).inverse, (X,), {}, ValueError, NOLA_HANN,
         "STFT-inverse-nola"),
    # ---- windows ----------------------------------------------------------------------------
    case(specsep.get_window, ("kaiser", 16), {}, ValueError, rf"window='kaiser' is not one of {VALID_WINDOWS}",
         "get_window-unknown"),
    case(specsep.get_window, ("hann", 0), {}, ValueError, r"n=0 must be >= 1", "get_window-n"),
    case(specsep.get_window, ("hann", 16.0), {}, TypeError, r"n must be an integer", "get_window-n-float"),
    case(specsep.check_nola, ("hann", 16), {}, TypeError, r"win_length is required when window is given by name",
         "check_nola-win_length"),
    case(specsep.check_nola, (np.ones(16), 0), {}, ValueError, r"hop_length=0 must be >= 1", "check_nola-hop"),
    case(specsep.check_cola, ("foo", 4), dict(win_length=16), ValueError, r"window='foo' is not one of",
         "check_cola-window"),
    case(specsep.check_cola, (np.ones(16, dtype=complex), 4), {}, TypeError, r"window must be a window name",
         "check_cola-complex"),
    # ---- apply_mask -------------------------------------------------------------------------
    case(specsep.apply_mask, (S, M), {}, TypeError, r"X_mix must be a complex spectrogram", "apply_mask-real-mix"),
    case(specsep.apply_mask, (X, M.astype(complex)), {}, TypeError, r"M must be real", "apply_mask-complex-mask"),
    *dtype_cases(specsep.apply_mask, 1, _array(M.shape), "M", other_args=(X,)),
    *dtype_cases(specsep.apply_mask, 0, _array(X.shape), "X_mix", other_args=(M,)),
    case(specsep.apply_mask, (X, M.astype(np.float32)), {}, TypeError,
         r"M has dtype float32 but the mixture is float64-based", "apply_mask-precision"),
    case(specsep.apply_mask, (X32, M), {}, TypeError, r"M has dtype float64 but the mixture is float32-based",
         "apply_mask-precision32"),
    case(specsep.apply_mask, (X, np.ones(33)), {}, ValueError, r"M must have at least 2 dimension", "apply_mask-1d"),
    case(specsep.apply_mask, (X, np.ones((33, 16))), {}, ValueError, r"M of shape \(33, 16\) does not broadcast",
         "apply_mask-frames"),
    case(specsep.apply_mask, (X, np.ones((2, 34, 17))), {}, ValueError, r"M of shape \(2, 34, 17\) does not broadcast",
         "apply_mask-freqs"),
    case(specsep.apply_mask, (np.zeros((2,) + X.shape, complex), np.ones((3, 2) + X.shape)), {}, ValueError,
         r"does not broadcast against the mixture of shape \(2, 33, 17\)", "apply_mask-batch"),
    case(specsep.apply_mask, (X, np.ones((1, 1, 2) + X.shape)), {}, ValueError,
         r"M must have shape \(\.\.\., F, T\) or \(\.\.\., J, F, T\)", "apply_mask-rank"),
    case(specsep.apply_mask, (X, M), dict(backend="foo"), ValueError, r"backend='foo' is not one of",
         "apply_mask-backend"),
    case(specsep.apply_mask, (X, M), dict(backend="cuda"), ValueError, CUDA_REFUSAL,
         "apply_mask-backend-cuda"),
    case(specsep.apply_mask, (X, np.where(M > 0, np.nan, 0.0)), {}, ValueError,
         r"M contains NaN or Inf, but masks must be finite", "apply_mask-M-nan"),
    # ---- separate ---------------------------------------------------------------------------
    case(specsep.separate, (x.astype(complex), M), STFT_KW, TypeError, r"x_mix must be real", "separate-complex"),
    case(specsep.separate, (np.float64(0), M), STFT_KW, ValueError, r"x_mix must have at least 1 dimension",
         "separate-0d"),
    *dtype_cases(specsep.separate, 0, _array(256), "x_mix", other_args=(M,), kwargs=STFT_KW),
    case(specsep.separate, (np.zeros(0), M), STFT_KW, ValueError, r"x_mix must have at least one sample",
         "separate-empty"),
    case(specsep.separate, (x, M.astype(np.float32)), STFT_KW, TypeError,
         r"M has dtype float32 but the mixture is float64-based", "separate-precision"),
    case(specsep.separate, (x, np.ones((2, 33, 16))), STFT_KW, ValueError, r"M of shape \(2, 33, 16\) does not broadcast",
         "separate-frames"),
    case(specsep.separate, (x, M), dict(n_fft=N_FFT, hop_length=HOP, length=-1), ValueError,
         r"length=-1 must be >= 0", "separate-length"),
    case(specsep.separate, (x, np.ones((2, 33, 5))), dict(n_fft=N_FFT, hop_length=N_FFT), ValueError, NOLA_HANN,
         "separate-nola"),
    case(specsep.separate, (np.zeros(40), np.ones((2, 33, 1))), dict(n_fft=N_FFT, center=False), ValueError,
         r"signal of 40 samples is shorter than n_fft=64 with center=False", "separate-short"),
    case(specsep.separate, (x, M), dict(n_fft=N_FFT, hop_length=HOP, pad_mode="wrap"), ValueError,
         r"pad_mode='wrap' is not one of", "separate-pad"),
    case(specsep.separate, (x, M), dict(n_fft=N_FFT, hop_length=HOP, backend="cuda"), ValueError,
         CUDA_REFUSAL, "separate-backend"),
    case(specsep.separate, (x, M), dict(STFT_KW, chunk_frames=-1), ValueError, r"chunk_frames=-1 must be >= 1",
         "separate-chunk_frames-negative"),
    case(specsep.separate, (x, np.full(M.shape, np.inf)), STFT_KW, ValueError,
         r"M contains NaN or Inf, but masks must be finite", "separate-M-inf"),
    # ---- griffin_lim ------------------------------------------------------------------------
    case(specsep.griffin_lim, (np.ones(33),), {}, ValueError, r"S must have at least 2 dimension", "gla-1d"),
    case(specsep.griffin_lim, (X,), {}, TypeError, r"S must be real", "gla-complex"),
    *dtype_cases(specsep.griffin_lim, 0, _array(S.shape), "S", kwargs=dict(hop_length=HOP)),
    case(specsep.griffin_lim, (np.where(np.eye(33, 17) > 0, np.nan, 1.0),), {}, ValueError,
         r"S contains NaN or Inf", "gla-nan"),
    case(specsep.griffin_lim, (np.full(S.shape, np.inf),), {}, ValueError, r"S contains NaN or Inf", "gla-inf"),
    case(specsep.griffin_lim, (-S,), {}, ValueError, r"S must be non-negative", "gla-negative"),
    case(specsep.griffin_lim, (np.ones((33, 0)),), {}, ValueError, r"S must have at least one frame", "gla-no-frames"),
    # one frame, centre padding, even n_fft: the default length is 0 samples, which has no frame to iterate on
    case(specsep.griffin_lim, (np.ones((33, 1)),), dict(n_iter=1, pad_mode="edge"), ValueError,
         r"the default length \(0 samples\) gives 0 STFT frames but S has 1; .*\(e\.g\. length=1\)",
         "gla-one-frame-default-length"),
    case(specsep.griffin_lim, (np.ones((33, 1)),), dict(n_iter=1, hop_length=1), ValueError,
         r"the default length \(0 samples\) gives 0 STFT frames .*no length does; use hop_length > 1 or center=False",
         "gla-one-frame-hop-1"),
    case(specsep.griffin_lim, (S,), dict(hop_length=HOP, length=10), ValueError,
         r"length=10 gives 1 STFT frames but S has 17; .*\(e\.g\. length=256\)", "gla-length-frames"),
    case(specsep.griffin_lim, (S,), dict(n_iter=-1), ValueError, r"n_iter=-1 must be >= 0", "gla-n_iter-negative"),
    case(specsep.griffin_lim, (S,), dict(n_iter=2.0), TypeError, r"n_iter must be an integer", "gla-n_iter-float"),
    case(specsep.griffin_lim, (S,), dict(momentum=-0.1), ValueError, r"momentum=-0.1 must be >= 0", "gla-momentum-neg"),
    case(specsep.griffin_lim, (S,), dict(momentum=1.0), ValueError, r"momentum=1.0 must be < 1", "gla-momentum-1"),
    case(specsep.griffin_lim, (S,), dict(momentum=1.5), ValueError, r"momentum=1.5 must be < 1: .*pass unstable_momentum=True",
         "gla-momentum-big"),
    case(specsep.griffin_lim, (S,), dict(momentum=1.5, unstable_momentum=1), TypeError,
         r"unstable_momentum must be a bool", "gla-unstable_momentum-int"),
    case(specsep.griffin_lim, (S,), dict(momentum=float("nan")), ValueError, r"momentum=nan must be finite",
         "gla-momentum-nan"),
    case(specsep.griffin_lim, (S,), dict(momentum="0.9"), TypeError, r"momentum must be a real number",
         "gla-momentum-str"),
    case(specsep.griffin_lim, (S,), dict(rng="seed"), TypeError,
         r"rng must be None, an int seed or a numpy.random.Generator, got str", "gla-rng-str"),
    case(specsep.griffin_lim, (S,), dict(rng=1.5), TypeError, r"rng must be .* got float", "gla-rng-float"),
    case(specsep.griffin_lim, (S,), dict(rng=True), TypeError, r"rng must be .* got bool", "gla-rng-bool"),
    case(specsep.griffin_lim, (S,), dict(rng=np.random.RandomState(0)), TypeError, r"rng must be .* got RandomState",
         "gla-rng-randomstate"),
    case(specsep.griffin_lim, (S,), dict(init="mixture"), ValueError, r"init='mixture' is not one of 'random', 'zeros'",
         "gla-init-unknown"),
    case(specsep.griffin_lim, (S,), dict(init=np.zeros((3, 3))), ValueError,
         r"init of shape \(3, 3\) does not broadcast to the spectrogram shape \(33, 17\)", "gla-init-shape"),
    case(specsep.griffin_lim, (S,), dict(init=np.zeros(S.shape, dtype=int)), TypeError, r"init must be .* got dtype int",
         "gla-init-int"),
    case(specsep.griffin_lim, (S,), dict(init=np.full(S.shape, np.nan)), ValueError, r"init contains NaN or Inf",
         "gla-init-nan"),
    case(specsep.griffin_lim, (S,), dict(tol=-1.0), ValueError, r"tol=-1.0 must be >= 0", "gla-tol"),
    case(specsep.griffin_lim, (S,), dict(precision="float16"), ValueError,
         r"precision='float16' is not one of 'float32', 'float64'", "gla-precision"),
    case(specsep.griffin_lim, (S,), dict(precision=np.float32), ValueError,
         r"precision=<class 'numpy.float32'> is not one of 'float32', 'float64'", "gla-precision-type"),
    case(specsep.griffin_lim, (S,), dict(return_history="yes"), TypeError, r"return_history must be a bool",
         "gla-return_history"),
    case(specsep.griffin_lim, (S,), dict(n_fft=128), ValueError, r"S has 33 frequency bins, which implies n_fft=64",
         "gla-freq-mismatch"),
    case(specsep.griffin_lim, (S,), dict(length=-1), ValueError, r"length=-1 must be >= 0", "gla-length"),
    case(specsep.griffin_lim, (S,), dict(hop_length=N_FFT), ValueError, NOLA_HANN, "gla-nola"),
    case(specsep.griffin_lim, (S,), dict(window="kaiser"), ValueError, rf"window='kaiser' is not one of {VALID_WINDOWS}",
         "gla-window"),
    case(specsep.griffin_lim, (S,), dict(backend="foo"), ValueError, r"backend='foo' is not one of", "gla-backend"),
    case(specsep.griffin_lim, (S,), dict(backend="cuda"), ValueError, CUDA_REFUSAL,
         "gla-backend-cuda"),
    # ---- misi -------------------------------------------------------------------------------
    case(specsep.misi, (x.astype(complex), S_src), STFT_KW, TypeError, r"x_mix must be real", "misi-complex"),
    *dtype_cases(specsep.misi, 0, _array(256), "x_mix", other_args=(S_src,), kwargs=STFT_KW),
    *dtype_cases(specsep.misi, 1, _array(S_src.shape), "S_sources", other_args=(x,), kwargs=STFT_KW),
    case(specsep.misi, (x, S), STFT_KW, ValueError, r"S_sources must have at least 3 dimension", "misi-2d"),
    case(specsep.misi, (x, S_src), dict(STFT_KW, precision="double"), ValueError,
         r"precision='double' is not one of 'float32', 'float64'", "misi-precision"),
    case(specsep.misi, (np.r_[np.nan, x[1:]], S_src), STFT_KW, ValueError, r"x_mix contains NaN or Inf", "misi-mix-nan"),
    case(specsep.misi, (x, np.full(S_src.shape, np.nan)), STFT_KW, ValueError, r"S_sources contains NaN or Inf",
         "misi-S-nan"),
    case(specsep.misi, (x, -S_src), STFT_KW, ValueError, r"S_sources must be non-negative", "misi-negative"),
    case(specsep.misi, (x32, S_src), STFT_KW, TypeError, r"S_sources has dtype float64 but x_mix is float32-based",
         "misi-precision"),
    case(specsep.misi, (np.zeros((3, 256)), S_src), STFT_KW, ValueError,
         r"S_sources has batch shape \(\) but x_mix has \(3,\)", "misi-batch"),
    case(specsep.misi, (np.zeros(300), S_src), STFT_KW, ValueError,
         r"S_sources has 17 frames but the STFT of x_mix \(300 samples\) has 19", "misi-frames"),
    case(specsep.misi, (x, np.ones((2, 65, 17))), STFT_KW, ValueError, r"implies n_fft=128 or 129, not n_fft=64",
         "misi-freq"),
    case(specsep.misi, (x, S_src), dict(STFT_KW, weights=[0.5, 0.6]), ValueError,
         r"weights must be 2 non-negative numbers summing to 1", "misi-weights-sum"),
    case(specsep.misi, (x, S_src), dict(STFT_KW, weights=[1.5, -0.5]), ValueError,
         r"weights must be 2 non-negative numbers", "misi-weights-negative"),
    case(specsep.misi, (x, S_src), dict(STFT_KW, weights=[1.0]), ValueError, r"weights must be 2 non-negative",
         "misi-weights-length"),
    case(specsep.misi, (x, S_src), dict(STFT_KW, n_iter=-1), ValueError, r"n_iter=-1 must be >= 0", "misi-n_iter"),
    case(specsep.misi, (x, S_src), dict(STFT_KW, momentum=1.0), ValueError, r"momentum=1.0 must be < 1",
         "misi-momentum"),
    case(specsep.misi, (x, S_src), dict(STFT_KW, momentum=-1e-3), ValueError, r"momentum=-0.001 must be >= 0",
         "misi-momentum-neg"),
    case(specsep.misi, (x, S_src), dict(STFT_KW, init="foo"), ValueError,
         r"init='foo' is not one of 'random', 'zeros', 'mixture'", "misi-init"),
    case(specsep.misi, (x, S_src), dict(STFT_KW, init="random", rng="x"), TypeError, r"rng must be None",
         "misi-rng"),
    case(specsep.misi, (x, S_src), dict(STFT_KW, length=-3), ValueError, r"length=-3 must be >= 0", "misi-length"),
    case(specsep.misi, (x, S_src), dict(STFT_KW, tol=-0.5), ValueError, r"tol=-0.5 must be >= 0", "misi-tol"),
    case(specsep.misi, (x, S_src), dict(STFT_KW, return_history=None), TypeError, r"return_history must be a bool",
         "misi-return_history"),
    case(specsep.misi, (x, np.ones((2, 33, 5))), dict(n_fft=N_FFT, hop_length=N_FFT), ValueError, NOLA_HANN,
         "misi-nola"),
    case(specsep.misi, (x, S_src), dict(STFT_KW, backend="cuda"), ValueError, CUDA_REFUSAL,
         "misi-backend"),
    # ---- masks ------------------------------------------------------------------------------
    case(masks.ideal_binary, (S,), {}, ValueError, r"S_sources must have at least 3 dimension", "ibm-2d"),
    *dtype_cases(masks.ideal_binary, 0, _array(S_src.shape), "S_sources", prefix="ibm"),
    case(masks.ideal_ratio, (X,), {}, ValueError, r"S_sources must have at least 3 dimensions", "irm-2d-complex"),
    *dtype_cases(masks.ideal_ratio, 0, _array(S_src.shape), "S_sources", prefix="irm"),
    case(masks.ideal_ratio, (S_src,), dict(power=-1), ValueError, r"power=-1.0 must be >= 0", "irm-power-negative"),
    case(masks.ideal_ratio, (S_src,), dict(power="2"), TypeError, r"power must be a real number", "irm-power-str"),
    case(masks.ideal_ratio, (S_src,), dict(power=np.inf), ValueError, r"power=inf must be finite", "irm-power-inf"),
    case(masks.wiener, (S,), {}, ValueError, r"S_sources must have at least 3 dimension", "wiener-2d"),
    case(masks.wiener, (S_src.astype(np.int16),), {}, TypeError, r"S_sources has dtype int16", "wiener-int"),
    case(masks.wiener, (S_src,), dict(power=-2.0), ValueError, r"power=-2.0 must be >= 0", "wiener-power"),
    case(masks.phase_sensitive, (S_src, X), {}, TypeError, r"X_sources must be a complex spectrogram",
         "psm-real-sources"),
    case(masks.phase_sensitive, (X_src, S), {}, TypeError, r"X_mix must be a complex spectrogram", "psm-real-mix"),
    case(masks.phase_sensitive, (X, X), {}, ValueError, r"X_sources must have at least 3 dimensions", "psm-2d"),
    case(masks.phase_sensitive, (X_src, X32), {}, TypeError, r"X_mix has dtype complex64 but X_sources complex128",
         "psm-precision"),
    case(masks.phase_sensitive, (X_src, np.zeros((33, 16), complex)), {}, ValueError,
         r"X_mix of shape \(33, 16\) does not broadcast", "psm-shape"),
    case(masks.phase_sensitive, (X_src, X), dict(clip=(1.0, 0.0)), ValueError, r"clip=\(1.0, 0.0\) must have low <= high",
         "psm-clip-order"),
    case(masks.phase_sensitive, (X_src, X), dict(clip=1.0), TypeError, r"clip must be a pair", "psm-clip-scalar"),
    case(masks.phase_sensitive, (X_src, X), dict(clip=(0.0, np.nan)), ValueError, r"clip\[1\]=nan must be finite",
         "psm-clip-nan"),
    case(masks.softmask, (S, -S), {}, ValueError, r"X_ref must be non-negative", "softmask-negative-ref"),
    case(masks.softmask, (-S, S), {}, ValueError, r"X must be non-negative", "softmask-negative"),
    case(masks.softmask, (S, S), dict(power=0), ValueError, r"power=0 must be > 0", "softmask-power-0"),
    case(masks.softmask, (S, S), dict(power=-1.0), ValueError, r"power=-1.0 must be > 0", "softmask-power-neg"),
    case(masks.softmask, (S, S), dict(power=float("nan")), ValueError, r"power=nan must be > 0", "softmask-power-nan"),
    case(masks.softmask, (S, S), dict(power="1"), TypeError, r"power must be a positive number", "softmask-power-str"),
    case(masks.softmask, (S, S), dict(split_zeros="no"), TypeError, r"split_zeros must be a bool", "softmask-split"),
    case(masks.softmask, (S, np.ones((3, 17))), {}, ValueError, r"X of shape \(33, 17\) and X_ref of shape \(3, 17\) do not broadcast",
         "softmask-broadcast"),
    case(masks.softmask, (S.astype(np.float32), S), {}, TypeError, r"X_ref has dtype float64 but X is float32-based",
         "softmask-precision"),
    case(masks.softmask, (X, S), {}, TypeError, r"X must be real", "softmask-complex"),
    *dtype_cases(masks.softmask, 0, _array(S.shape), "X", other_args=(S,), prefix="softmask"),
    *dtype_cases(masks.softmask, 1, _array(S.shape), "X_ref", other_args=(S,), prefix="softmask"),
    *dtype_cases(masks.binarize, 0, _array(S.shape), "M", prefix="binarize"),
    case(masks.binarize, (X,), {}, TypeError, r"M must be real", "binarize-complex"),
    case(masks.binarize, (S,), dict(threshold="0.5"), TypeError, r"threshold must be a real number", "binarize-threshold"),
    case(masks.binarize, (S,), dict(threshold=np.nan), ValueError, r"threshold=nan must be finite", "binarize-nan"),
    case(masks.normalize, (S,), {}, ValueError, r"M must have at least 3 dimension", "normalize-2d"),
    case(masks.normalize, (-M,), {}, ValueError, r"M must be non-negative", "normalize-negative"),
    *dtype_cases(masks.normalize, 0, _array(M.shape), "M", prefix="normalize"),
    case(specsep.masks.binarize, (np.array([0.2, np.nan]),), {}, ValueError, r"M contains NaN",
         "binarize-M-nan"),
    case(specsep.masks.normalize, (np.full(M.shape, np.inf),), {}, ValueError, r"M contains NaN or Inf",
         "normalize-M-inf"),
    # ---- metrics ----------------------------------------------------------------------------
    *dtype_cases(metrics.snr, 0, _array(REF.shape), "reference", other_args=(EST,), prefix="snr"),
    *dtype_cases(metrics.snr, 1, _array(EST.shape), "estimate", other_args=(REF,), prefix="snr"),
    case(metrics.snr, (REF.astype(complex), EST), {}, TypeError, r"reference must be real", "snr-complex"),
    case(metrics.snr, (np.float64(0), EST), {}, ValueError, r"reference must have at least 1 dimension", "snr-0d"),
    case(metrics.snr, (REF, np.zeros((3, 100))), {}, ValueError,
         r"reference \(2, 100\) and estimate \(3, 100\) do not broadcast", "snr-broadcast"),
    case(metrics.snr, (REF, np.zeros((2, 1))), {}, ValueError, r"reference has 100 samples, estimate 1", "snr-samples"),
    *dtype_cases(metrics.si_sdr, 0, _array(REF.shape), "reference", other_args=(EST,), prefix="si_sdr"),
    *dtype_cases(metrics.si_sdr, 1, _array(EST.shape), "estimate", other_args=(REF,), prefix="si_sdr"),
    case(metrics.si_sdr, (REF, EST.astype(complex)), {}, TypeError, r"estimate must be real", "si_sdr-complex"),
    case(metrics.si_sdr, (REF, np.float64(0)), {}, ValueError, r"estimate must have at least 1 dimension",
         "si_sdr-0d"),
    case(metrics.si_sdr, (REF, np.zeros((2, 99))), {}, ValueError, r"do not broadcast", "si_sdr-broadcast"),
    case(metrics.si_sdr, (REF, EST), dict(zero_mean="yes"), TypeError, r"zero_mean must be a bool", "si_sdr-zero_mean"),
    # ---- features ---------------------------------------------------------------------------
    case(specsep.magnitude, (S,), {}, TypeError, r"X must be a complex spectrogram .* float64", "magnitude-real"),
    *dtype_cases(specsep.magnitude, 0, _array(S.shape), "X"),
    case(specsep.power, (S,), {}, TypeError, r"X must be a complex spectrogram", "power-real"),
    *dtype_cases(specsep.power, 0, _array(S.shape), "X"),
    case(specsep.power_to_db, (X,), {}, TypeError, r"S must be real", "power_to_db-complex"),
    *dtype_cases(specsep.power_to_db, 0, _array(S.shape), "S"),
    case(specsep.power_to_db, (S,), dict(amin=0.0), ValueError, r"amin=0.0 must be > 0", "power_to_db-amin"),
    case(specsep.power_to_db, (S,), dict(amin="1e-10"), TypeError, r"amin must be a real number",
         "power_to_db-amin-str"),
    case(specsep.power_to_db, (S,), dict(top_db=-1.0), ValueError, r"top_db=-1.0 must be >= 0", "power_to_db-top_db"),
    case(specsep.power_to_db, (S,), dict(ref="max"), TypeError, r"ref must be a real number, got str",
         "power_to_db-ref-str"),
    case(specsep.power_to_db, (S,), dict(ref=np.ones(2)), TypeError, r"ref must be a real number, got ndarray",
         "power_to_db-ref-array"),
    case(specsep.power_to_db, (S,), dict(ref=np.inf), ValueError, r"ref=inf must be finite", "power_to_db-ref-inf"),
    case(specsep.power_to_db, (S,), dict(ref=lambda s: s), TypeError, r"ref must be a real number, got ndarray",
         "power_to_db-ref-callable"),
    case(specsep.amplitude_to_db, (X,), {}, TypeError, r"S must be real", "amplitude_to_db-complex"),
    *dtype_cases(specsep.amplitude_to_db, 0, _array(S.shape), "S"),
    case(specsep.amplitude_to_db, (S,), dict(amin=-1.0), ValueError, r"amin=-1.0 must be > 0", "amplitude_to_db-amin"),
    case(specsep.amplitude_to_db, (S,), dict(top_db=-3.0), ValueError, r"top_db=-3.0 must be >= 0",
         "amplitude_to_db-top_db"),
    case(specsep.amplitude_to_db, (S,), dict(ref="max"), TypeError, r"ref must be a real number, got str",
         "amplitude_to_db-ref"),
    case(specsep.mel_filterbank, (0, 512), {}, ValueError, r"sr=0.0 must be > 0", "mel_filterbank-sr"),
    case(specsep.mel_filterbank, ("16000", 512), {}, TypeError, r"sr must be a real number", "mel_filterbank-sr-str"),
    case(specsep.mel_filterbank, (16000, 1), {}, ValueError, r"n_fft=1 must be >= 2", "mel_filterbank-n_fft"),
    case(specsep.mel_filterbank, (16000, 512.0), {}, TypeError, r"n_fft must be an integer", "mel_filterbank-n_fft-float"),
    case(specsep.mel_filterbank, (16000, 512), dict(n_mels=0), ValueError, r"n_mels=0 must be >= 1",
         "mel_filterbank-n_mels"),
    case(specsep.mel_filterbank, (16000, 512), dict(fmin=-1.0), ValueError, r"fmin=-1.0 must be >= 0",
         "mel_filterbank-fmin"),
    case(specsep.mel_filterbank, (16000, 512), dict(fmin=2000.0, fmax=1000.0), ValueError,
         r"fmax=1000.0 must be > fmin=2000.0", "mel_filterbank-fmax"),
    case(specsep.mel_filterbank, (16000, 512), dict(htk="yes"), TypeError, r"htk must be a bool", "mel_filterbank-htk"),
    case(specsep.mel_filterbank, (16000, 512), dict(norm="l2"), ValueError,
         r"norm='l2' must be 'slaney', None, inf, -inf, 0 or a number > 0", "mel_filterbank-norm"),
    case(specsep.mel_filterbank, (16000, 512), dict(norm=-1), ValueError, r"norm=-1 must be 'slaney', None, inf",
         "mel_filterbank-norm-negative"),
    case(specsep.mel_filterbank, (16000, 512), dict(norm=float("nan")), ValueError, r"norm=nan must be 'slaney'",
         "mel_filterbank-norm-nan"),
    case(specsep.mel_filterbank, (16000, 512), dict(norm=True), ValueError, r"norm=True must be 'slaney'",
         "mel_filterbank-norm-bool"),
    case(specsep.mel_filterbank, (16000, 512), dict(dtype=np.int32), TypeError, r"dtype must be float32 or float64",
         "mel_filterbank-dtype"),
    case(specsep.mel_spectrogram, (x.astype(complex), 16000), {}, TypeError, r"x must be real", "mel_spectrogram-complex"),
    *dtype_cases(specsep.mel_spectrogram, 0, _array(256), "x", other_args=(16000,), kwargs=STFT_KW),
    case(specsep.mel_spectrogram, (x, 16000), dict(STFT_KW, power=0.0), ValueError, r"power=0.0 must be > 0",
         "mel_spectrogram-power"),
    case(specsep.mel_spectrogram, (x, 16000), dict(STFT_KW, n_mels=0), ValueError, r"n_mels=0 must be >= 1",
         "mel_spectrogram-n_mels"),
    case(specsep.mel_spectrogram, (x, 0), STFT_KW, ValueError, r"sr=0.0 must be > 0", "mel_spectrogram-sr"),
    case(specsep.mel_spectrogram, (x, 16000), dict(STFT_KW, fmin=9000.0), ValueError,
         r"fmax=8000.0 must be > fmin=9000.0", "mel_spectrogram-fmin"),
    case(specsep.mel_spectrogram, (x, 16000), dict(n_fft=1), ValueError, r"n_fft=1 must be >= 2", "mel_spectrogram-n_fft"),
    case(specsep.mel_spectrogram, (x, 16000), dict(STFT_KW, n_mels=8, window="kaiser"), ValueError,
         r"window='kaiser' is not one of", "mel_spectrogram-window"),
    case(specsep.mel_spectrogram, (x, 16000), dict(STFT_KW, n_mels=8, backend="cuda"), ValueError,
         CUDA_REFUSAL, "mel_spectrogram-backend"),
    # ---- threads ----------------------------------------------------------------------------
    case(specsep.check_backend, ("gpu",), {}, ValueError, r"backend='gpu' is not one of 'numpy', 'cpu'", "check_backend-name"),
    case(specsep.available_backends, (), {"arrays": "torch"}, ValueError, r"arrays='torch' is not one of None",
         "available_backends-arrays"),
    case(specsep.set_num_threads, (0,), {}, ValueError, r"n=0 must be >= 1", "set_num_threads-zero"),
    case(specsep.set_num_threads, (2.0,), {}, TypeError, r"n must be an integer", "set_num_threads-float"),
    case(specsep.set_num_threads, (True,), {}, TypeError, r"n must be an integer", "set_num_threads-bool"),
]


@pytest.mark.parametrize("fn, args, kwargs, exc, match", CASES)
def test_error(fn, args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)


@pytest.mark.parametrize("fn, args, kwargs, exc, match", CASES)
def test_errors_are_exact_types(fn, args, kwargs, exc, match):
    """TypeError for the wrong kind of value, ValueError for a wrong value: never a subclass of
    something else leaking from deep inside (e.g. numpy's AxisError, IndexError, ZeroDivisionError)."""
    with pytest.raises(Exception) as info:
        fn(*args, **kwargs)
    assert type(info.value) is exc, (type(info.value), info.value)


def _takes_backend(fn):
    return "backend" in inspect.signature(fn).parameters


# The rows of functions that take ``backend=`` and do not name one already: each runs again on
# every host backend (the ``backend`` fixture), so that validation is shown to be shared and to
# finish before that backend's first kernel.
BACKEND_CASES = [row for row in CASES if _takes_backend(row.values[0]) and "backend" not in row.values[2]]
KERNEL_METHODS = ("stft", "istft", "apply_mask", "separate", "griffin_lim", "misi")


@pytest.fixture
def kernels_forbidden(backend, monkeypatch):
    """``backend`` with every entry point replaced by a tripwire: reaching one is the failure."""
    from specsep import _backends

    def tripwire(method):
        def run(*args, **kwargs):  # pragma: no cover - reaching it is the failure
            raise AssertionError(f"backend {backend!r} ran {method} before validation finished")
        return run

    chosen = _backends.select(backend)
    for method in KERNEL_METHODS:
        monkeypatch.setattr(chosen, method, tripwire(method))
    return backend


@pytest.mark.parametrize("fn, args, kwargs, exc, match", BACKEND_CASES)
def test_error_before_any_kernel_on_every_backend(kernels_forbidden, fn, args, kwargs, exc, match):
    with pytest.raises(Exception) as info:
        fn(*args, **kwargs, backend=kernels_forbidden)
    assert type(info.value) is exc, (type(info.value), info.value)
    assert re.search(match, str(info.value)), (match, str(info.value))


def test_backend_rows_cover_every_backend_taking_function():
    names = {getattr(row.values[0], "__qualname__", "") for row in BACKEND_CASES}
    for expected in ("stft", "istft", "apply_mask", "separate", "griffin_lim", "misi", "mel_spectrogram",
                     "STFT.forward", "STFT.inverse"):
        assert expected in names, expected


def _public_callables():
    names = set()
    for name in specsep.__all__:
        obj = getattr(specsep, name)
        if name in ("masks", "metrics"):
            names |= {f"{name}.{n}" for n in dir(obj)
                      if not n.startswith("_") and callable(getattr(obj, n))
                      and getattr(getattr(obj, n), "__module__", "") == obj.__name__}
        elif callable(obj):
            names.add(name)
    return names


def _covered():
    names = set()
    for param in CASES:
        fn = param.values[0]
        owner = getattr(fn, "__self__", None)
        if isinstance(owner, specsep.STFT):
            names.add("STFT")
            continue
        module = fn.__module__.rsplit(".", 1)[-1]
        names.add(f"{module}.{fn.__name__}" if module in ("masks", "metrics") else fn.__name__)
    return names


def test_catalogue_covers_every_public_function():
    # clear_caches(), cpu_kernels() and get_num_threads() take no argument and cannot fail: exempt;
    # available_backends is specsep._backends.available (its case above has another __name__).
    missing = _public_callables() - _covered() - {"available_backends", "clear_caches", "cpu_kernels",
                                                   "get_num_threads"}
    assert not missing, f"no error case for {sorted(missing)}"


def test_backend_selection_names_the_choices():
    assert specsep.available_backends()[0] == "numpy"
    for name in ("cuda", "cuda-emu"):
        if name not in specsep.available_backends():
            with pytest.raises(ValueError, match=rf"backend='{name}' is not available"):
                specsep.stft(x, n_fft=N_FFT, backend=name)


def test_no_computation_before_validation(monkeypatch):
    """Argument errors surface before any backend work starts."""
    from specsep import _backends

    def boom(*args, **kwargs):  # pragma: no cover - reaching it is the failure
        raise AssertionError("a backend ran before validation finished")

    backend = _backends.select("numpy")
    for method in ("stft", "istft", "apply_mask", "griffin_lim", "misi", "separate"):
        monkeypatch.setattr(type(backend), method, staticmethod(boom) if method != "separate" else boom)
    with pytest.raises(ValueError, match="hop_length=64 violates NOLA"):
        specsep.istft(X, n_fft=N_FFT, hop_length=N_FFT, backend="numpy")
    with pytest.raises(ValueError, match="momentum"):
        specsep.griffin_lim(S, momentum=1.0, backend="numpy")
    with pytest.raises(ValueError, match="weights"):
        specsep.misi(x, S_src, weights=[2.0, -1.0], **STFT_KW, backend="numpy")
    with pytest.raises(ValueError, match="does not broadcast"):
        specsep.separate(x, np.ones((2, 33, 3)), **STFT_KW, backend="numpy")
