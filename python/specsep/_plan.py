"""The STFT plan: immutable parameters plus cached derived values (window, envelope)."""

from __future__ import annotations

import functools
import math

import numpy as np

from . import _transforms
from . import _validate as v
from ._arrays import callers_kind
from ._windows import _named_window, check_nola


class STFT:
    """Short-time Fourier transform plan.

    An immutable description of one STFT configuration. Derived values (the padded window, the
    window-sum-square envelope for a given frame count) are computed once and cached. The functions
    :func:`specsep.stft` and :func:`specsep.istft` use cached plans of this class.

    Parameters
    ----------
    n_fft : int
        FFT size, ``>= 2``. The spectrogram has ``n_fft // 2 + 1`` frequency bins.
    hop_length : int, optional
        Frame shift in samples, ``>= 1``. Default ``win_length // 4`` (at least 1). A hop longer
        than the window leaves gaps between frames: fine for analysis (librosa's CQT does it),
        but no inverse exists (NOLA fails), so the inverse transforms refuse such a plan.
    win_length : int, optional
        Window length, ``1 <= win_length <= n_fft``; a shorter window is zero-padded on both sides
        (centred) to ``n_fft``. Default ``n_fft``.
    window : str or array_like, shape (win_length,)
        A name accepted by :func:`specsep.get_window`, or the window values.
    center : bool
        Pad ``n_fft // 2`` samples on both sides so that frame ``t`` is centred on sample
        ``t * hop_length`` (librosa and torch convention).
    pad_mode : {"constant", "reflect", "edge"}
        How ``center`` pads: zeros, mirror without repeating the edge sample (NumPy's ``reflect``),
        or repeating the edge sample.
    normalized : bool
        Scale the forward transform by ``n_fft ** -0.5`` (torch's ``normalized=True``); the
        inverse undoes it.
    dtype : {np.float32, np.float64}
        Real precision of the signals; spectrograms are complex64 or complex128 to match.

    Attributes
    ----------
    window : np.ndarray, shape (n_fft,)
        The analysis window, zero-padded to ``n_fft``, in ``dtype``.
    invertible : bool
        Whether the window and hop satisfy NOLA, so that :meth:`inverse` exists.
    n_freqs : int
        ``n_fft // 2 + 1``.
    padding : int
        Samples of centre padding on each side: ``n_fft // 2`` with ``center``, else 0.
    """

    __slots__ = ("n_fft", "hop_length", "win_length", "window_spec", "center", "pad_mode",
                 "normalized", "dtype", "_window64", "_invertible", "__weakref__")

    def __init__(self, n_fft, hop_length=None, win_length=None, window="hann", center=True,
                 pad_mode="constant", normalized=False, dtype=np.float32):
        n_fft = v.check_int("n_fft", n_fft, minimum=2)
        win_length = n_fft if win_length is None else v.check_int("win_length", win_length, minimum=1, maximum=n_fft)
        if hop_length is None:
            hop_length = max(win_length // 4, 1)
        hop_length = v.check_int("hop_length", hop_length, minimum=1)
        if isinstance(window, str):
            v.check_window_name(window)
            values = _named_window(window, win_length)
            window_spec = window
        else:
            values = v.check_window_array(window)
            if values.shape[0] != win_length:
                raise ValueError(f"window has {values.shape[0]} points but win_length={win_length}")
            window_spec = values.copy()
            window_spec.flags.writeable = False
        dtype = np.dtype(dtype)
        if dtype not in v.REAL_DTYPES:
            raise TypeError(f"dtype must be float32 or float64, got {dtype}")
        padded = np.zeros(n_fft)
        offset = (n_fft - win_length) // 2  # librosa's pad_center
        padded[offset:offset + win_length] = values
        padded.flags.writeable = False
        setattr_ = object.__setattr__
        setattr_(self, "n_fft", n_fft)
        setattr_(self, "hop_length", hop_length)
        setattr_(self, "win_length", win_length)
        setattr_(self, "window_spec", window_spec)
        setattr_(self, "center", v.check_bool("center", center))
        setattr_(self, "pad_mode", v.check_pad_mode(pad_mode))
        setattr_(self, "normalized", v.check_bool("normalized", normalized))
        setattr_(self, "dtype", dtype)
        setattr_(self, "_window64", padded)
        setattr_(self, "_invertible", check_nola(padded, hop_length))

    def __setattr__(self, name, value):
        raise AttributeError("STFT plans are immutable; build a new one")

    def __delattr__(self, name):
        raise AttributeError("STFT plans are immutable; build a new one")

    # ---- identity -------------------------------------------------------------------------
    def _key(self):
        spec = self.window_spec if isinstance(self.window_spec, str) else self.window_spec.tobytes()
        return (self.n_fft, self.hop_length, self.win_length, spec, self.center, self.pad_mode,
                self.normalized, self.dtype.str)

    def __eq__(self, other):
        return isinstance(other, STFT) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __reduce__(self):
        return (STFT, (self.n_fft, self.hop_length, self.win_length, self.window_spec, self.center,
                       self.pad_mode, self.normalized, self.dtype))

    def __repr__(self):
        window = self.window_spec if isinstance(self.window_spec, str) else "<array>"
        return (f"STFT(n_fft={self.n_fft}, hop_length={self.hop_length}, win_length={self.win_length}, "
                f"window={window!r}, center={self.center}, pad_mode={self.pad_mode!r}, "
                f"normalized={self.normalized}, dtype={self.dtype.name})")

    # ---- derived values ---------------------------------------------------------------------
    @property
    def n_freqs(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def window(self) -> np.ndarray:
        return self._window64.astype(self.dtype)

    @property
    def window64(self) -> np.ndarray:
        """The padded window in float64 (read-only): what the reference computes with."""
        return self._window64

    @property
    def invertible(self) -> bool:
        return self._invertible

    @property
    def padding(self) -> int:
        """Samples of centre padding on each side: ``n_fft // 2`` with ``center``, else 0. Frame
        ``t`` starts at sample ``t * hop_length - padding``; an iSTFT's output starts there too."""
        return self.n_fft // 2 if self.center else 0

    def n_frames(self, n_samples: int) -> int:
        """Number of frames of a signal of ``n_samples`` samples.

        Raises ``ValueError`` when the signal is too short for one frame.
        """
        n_samples = v.check_int("n_samples", n_samples, minimum=1)
        padded = n_samples + 2 * self.padding
        if padded < self.n_fft:
            raise ValueError(
                f"signal of {n_samples} samples is shorter than n_fft={self.n_fft} "
                + ("" if self.center else "with center=False (use center=True or a shorter n_fft)")
            )
        return 1 + (padded - self.n_fft) // self.hop_length

    def istft_length(self, n_frames: int) -> int:
        """Length of the inverse STFT of ``n_frames`` frames when no ``length`` is asked for."""
        return self.n_fft + self.hop_length * (n_frames - 1) - 2 * self.padding

    def freqs(self, sr: float) -> np.ndarray:
        """Centre frequency of each bin in Hz, shape ``(n_fft // 2 + 1,)``, float64."""
        sr = v.check_float("sr", sr, minimum=0.0)
        return np.arange(self.n_freqs) * (sr / self.n_fft)

    def envelope(self, n_frames: int) -> np.ndarray:
        """Window-sum-square envelope over the un-trimmed output, shape ``(n_fft + hop*(n_frames-1),)``."""
        return _envelope(self._window64.tobytes(), self.n_fft, self.hop_length, int(n_frames))

    @property
    def synthesis_scale(self) -> float:
        """The power of two the inverse scales the window down by (Note [scaled synthesis])."""
        return synthesis_scale(self._window64)

    @property
    def pad_mode_code(self) -> int:
        """``pad_mode`` as the kernels number it: ``enum PadMode`` of
        cpp/include/specsep/framing.hpp (constant 0, reflect 1, edge 2, the order of PAD_MODES)."""
        return v.PAD_MODES.index(self.pad_mode)

    def with_dtype(self, dtype) -> STFT:
        """This plan in another real precision (phase retrieval iterates in float64)."""
        return get(self.n_fft, self.hop_length, self.win_length, self.window_spec, self.center, self.pad_mode,
                   self.normalized, dtype)

    def uncentred(self) -> STFT:
        """This plan without centre padding: what the blocks of chunked calls are computed with
        (each block's padding is gathered by :mod:`specsep._chunks`)."""
        return get(self.n_fft, self.hop_length, self.win_length, self.window_spec, False, "constant",
                   self.normalized, self.dtype)

    def bare(self) -> STFT:
        """This plan without centre padding and normalisation: the windowed analysis and overlap-add
        that specsep.torch's adjoint transforms are made of (padding and scale handled around them)."""
        return get(self.n_fft, self.hop_length, self.win_length, self.window_spec, False, "constant", False,
                   self.dtype)

    def check_invertible(self) -> None:
        if not self.invertible:
            raise ValueError(_nola_message(self))

    # ---- transforms -------------------------------------------------------------------------
    def forward(self, x, *, backend=None, chunk_frames=None, out=None):
        """STFT of ``x``; see :func:`specsep.stft`."""
        return callers_kind(lambda data, out: _transforms.stft(self, data, backend, chunk_frames, out))(x, out=out)

    def inverse(self, X, length=None, *, backend=None, chunk_frames=None, out=None):
        """Inverse STFT of ``X``; see :func:`specsep.istft`."""
        return callers_kind(lambda data, out: _transforms.istft(self, data, length, backend, chunk_frames, out))(X, out=out)


def synthesis_scale(window: np.ndarray) -> float:
    """Note [scaled synthesis]: the inverse STFT divides ``sum_t w * frame_t`` by the envelope
    ``sum_t w**2``; with float32 window values of ~1e19 both overflow (``w**2 > 3.4e38``). Every
    backend computes with ``w / c`` instead, ``c`` the smallest power of two ``>= max|w|`` and at
    least 1 (so 1 for the named windows): the synthesis window ``w * backward / c**2`` over the
    envelope of ``w / c`` is the same quotient, bit for bit where nothing over- or underflows, as
    scaling by a power of two is exact. A sample counts as covered where the envelope of ``w / c``
    is above the smallest normal number: the same samples for any power-of-two multiple of ``w``.
    ``cpp/cpu/plan.hpp`` computes the same ``c`` from its window."""
    mantissa, exponent = math.frexp(float(np.max(np.abs(window))))
    return math.ldexp(1.0, max(0, exponent - (mantissa == 0.5)))


def _nola_message(plan: STFT) -> str:
    window = plan.window_spec if isinstance(plan.window_spec, str) else "the given window"
    working = [h for h in range(min(plan.hop_length - 1, plan.win_length), 0, -1) if check_nola(plan._window64, h)]
    hint = f"; hop_length={working[0]} would work" if working else ""
    return (f"window={window!r} (win_length={plan.win_length}, n_fft={plan.n_fft}) with "
            f"hop_length={plan.hop_length} violates NOLA: the window-sum-square envelope vanishes, "
            f"so the inverse STFT does not exist{hint}")


def _envelope(window_bytes: bytes, n_fft: int, hop_length: int, n_frames: int) -> np.ndarray:
    # Only O(n_fft) is cached per window, never an envelope as long as a signal: block k of hop
    # samples sums the squared window's chunks j with 0 <= k - j < n_frames, so the blocks from
    # q - 1 to n_frames - 1 have every chunk (the steady block) and the last q - 1 depend only on
    # k - n_frames. Summed in the same order, the assembled envelope has the direct one's bits.
    q = -(-n_fft // hop_length)
    if n_frames <= q:
        out = _direct_envelope(window_bytes, n_fft, hop_length, n_frames)
    else:
        base = _envelope_of_q_frames(window_bytes, n_fft, hop_length)
        head, steady, tail = np.split(base, [(q - 1) * hop_length, q * hop_length])
        out = np.concatenate([head, np.tile(steady, n_frames - q + 1), tail])
    return _readonly(out[:n_fft + hop_length * (n_frames - 1)])


def _direct_envelope(window_bytes, n_fft, hop_length, n_frames):
    """The envelope of ``n_frames`` frames, blocks of ``hop_length`` samples, un-trimmed."""
    window = np.frombuffer(window_bytes, dtype=np.float64)
    q = -(-n_fft // hop_length)
    squares = np.zeros(q * hop_length)
    squares[:n_fft] = window ** 2
    out = np.zeros(hop_length * (n_frames + q - 1))
    for j, chunk in enumerate(squares.reshape(q, hop_length)):
        out[j * hop_length:(j + n_frames) * hop_length] += np.tile(chunk, n_frames)
    return out


@functools.lru_cache(maxsize=16)
def _envelope_of_q_frames(window_bytes, n_fft, hop_length):
    """The un-trimmed envelope of ``q = ceil(n_fft / hop_length)`` frames: 2q - 1 blocks, the
    head, the steady block and the tail of any longer envelope."""
    return _readonly(_direct_envelope(window_bytes, n_fft, hop_length, -(-n_fft // hop_length)))


def _readonly(array):
    array.flags.writeable = False
    return array


@functools.lru_cache(maxsize=128)
def _cached(key_args, key_types) -> STFT:
    # key_types keeps 512.0 / True from hitting the entry of 512 / 1 (equal and equal-hashing),
    # which would skip the constructor's type checks.
    return STFT(*key_args)


def get(n_fft, hop_length, win_length, window, center, pad_mode, normalized, dtype) -> STFT:
    """A cached plan for these parameters (array windows get a fresh plan)."""
    if not isinstance(window, str):
        return STFT(n_fft, hop_length, win_length, window, center, pad_mode, normalized, dtype)
    try:
        key = (n_fft, hop_length, win_length, window, center, pad_mode, normalized, np.dtype(dtype))
        return _cached(key, tuple(type(value) for value in key))
    except TypeError:
        # unhashable arguments: let the constructor produce the argument error
        return STFT(n_fft, hop_length, win_length, window, center, pad_mode, normalized, dtype)
