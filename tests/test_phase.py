"""Phase retrieval: fast Griffin-Lim and MISI, against librosa and literal loops."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

import specsep

from conftest import RTOL, assert_close, rel_error

SR = 8000

# librosa.griffinlim runs the same float64 iteration with a different FFT (scipy/numpy pocketfft,
# other summation orders); the rounding differences (~1e-16) grow mildly over the iterations
# (measured ~3e-13 after 30 iterations with momentum 0.99), so 1e-10 leaves a wide margin while
# any algorithmic difference (momentum form, eps, init, trimming) gives errors of order 1e-3..1.
GLA_ORACLE_RTOL = 1e-10


def music_like(rng, length=4000, n_partials=4, f0=220.0, decay=1.5):
    """A decaying harmonic tone with a little noise: a stand-in for a musical note."""
    t = np.arange(length) / SR
    tone = sum(np.sin(2 * np.pi * f0 * (k + 1) * t + rng.uniform(0, 2 * np.pi)) / (k + 1)
               for k in range(n_partials))
    return tone * np.exp(-decay * t) + 0.01 * rng.standard_normal(length)


GLA_CONFIGS = [
    dict(n_fft=256, hop_length=64, window="hann", center=True),
    dict(n_fft=255, hop_length=50, window="hamming", center=True),
    dict(n_fft=256, hop_length=64, win_length=200, window="blackman", center=True),
    dict(n_fft=256, hop_length=64, win_length=200, window="hann", center=False),
    dict(n_fft=128, hop_length=32, window="hann", center=True, pad_mode="reflect"),
]
# Not blackman with center=False: scipy's blackman starts at -1.4e-17 (rounding of 0.42-0.5+0.08),
# whose square passes librosa's envelope test at the first sample, so librosa.istft divides rounding
# noise by 2e-34 there (a 1e16 spike); specsep's blackman starts at an exact 0.
_ID = lambda c: "-".join(f"{k}={v}" for k, v in c.items())  # noqa: E731


@pytest.mark.parametrize("config", GLA_CONFIGS, ids=_ID)
@pytest.mark.parametrize("momentum", [0.0, 0.99])
def test_griffin_lim_zeros_init_equals_librosa(rng, config, momentum):
    x = music_like(rng)
    S = np.abs(librosa.stft(x, **config))
    ours = specsep.griffin_lim(S, n_iter=25, momentum=momentum, init="zeros", length=x.size, **config,
                               backend="numpy")
    theirs = librosa.griffinlim(S, n_iter=25, init=None, momentum=momentum, length=x.size, **config)
    assert ours.shape == theirs.shape == x.shape and ours.dtype == np.float64
    assert_close(ours, theirs, GLA_ORACLE_RTOL)


def test_griffin_lim_default_length_equals_librosa(rng):
    x = music_like(rng, length=3001)
    S = np.abs(librosa.stft(x, n_fft=256, hop_length=64))
    ours = specsep.griffin_lim(S, n_iter=10, init="zeros", hop_length=64, backend="numpy")
    theirs = librosa.griffinlim(S, n_iter=10, init=None, hop_length=64)
    assert_close(ours, theirs, GLA_ORACLE_RTOL)


def test_griffin_lim_backend_matches_reference(rng, backend, dtype):
    x = np.stack([music_like(rng), music_like(rng, f0=330.0)]).astype(dtype)
    S = np.abs(specsep.stft(x, n_fft=256, hop_length=64, backend="numpy"))
    kw = dict(n_iter=8, hop_length=64, momentum=0.9, init="zeros", length=x.shape[-1], precision="float64")
    y = specsep.griffin_lim(S, **kw, backend=backend)
    assert y.dtype == dtype and y.shape == x.shape
    # float64 iterations of a contraction-like map: rounding grows slowly; 10x the per-dtype table
    # (for float32 data: the rounding of the input and of the output)
    assert_close(y, specsep.griffin_lim(S, **kw, backend="numpy"), 10 * RTOL[dtype])


# One float32 iteration against the reference's (which rounds each float64 transform to float32):
# float32 FFTs round at ~1e-7 relative, and c / |c| amplifies that in the bins where the rebuilt
# spectrum nearly vanishes; measured 2.3e-5 (cpu) and 3.1e-5 (cuda-emu) on these signals.
FLOAT32_STEP_RTOL = 1e-4


def test_float32_iteration_step_close_to_reference(rng, backend):
    x = np.stack([music_like(rng), music_like(rng, f0=330.0)]).astype(np.float32)
    S = np.abs(specsep.stft(x, n_fft=256, hop_length=64, backend="numpy"))
    sources = np.stack([x, 0.5 * x[:, ::-1]], axis=-2)
    S_sources = np.abs(specsep.stft(sources, n_fft=256, hop_length=64, backend="numpy"))
    kw = dict(n_iter=1, hop_length=64, momentum=0.99, rng=3)
    for precision in (None, "float32"):
        y = specsep.griffin_lim(S, **kw, length=x.shape[-1], precision=precision, backend=backend)
        assert y.dtype == np.float32
        assert_close(y, specsep.griffin_lim(S, **kw, length=x.shape[-1], backend="numpy"), FLOAT32_STEP_RTOL)
        est = specsep.misi(sources.sum(-2), S_sources, **kw, precision=precision, backend=backend)
        assert_close(est, specsep.misi(sources.sum(-2), S_sources, **kw, backend="numpy"), FLOAT32_STEP_RTOL)
    # float64 data iterated in float32: the same iteration on the data rounded to float32 (which
    # sets the noise floor of Note [vanishing bins] on both), returned as float64
    y = specsep.griffin_lim(S.astype(np.float64), **kw, length=x.shape[-1], precision="float32", backend=backend)
    assert y.dtype == np.float64
    assert_close(y, specsep.griffin_lim(S, **kw, length=x.shape[-1], backend="numpy"), FLOAT32_STEP_RTOL)


def _reached_convergence(y, S, hop_length):
    """The spectral convergence ``|| |STFT(y)| - S || / ||S||`` of a result, per item, in float64."""
    rebuilt = np.abs(specsep.stft(y.astype(np.float64), n_fft=2 * (S.shape[-2] - 1), hop_length=hop_length,
                                  backend="numpy"))
    return np.linalg.norm(rebuilt - S, axis=(-2, -1)) / np.linalg.norm(S, axis=(-2, -1))


def _check_float32_quality(S, hop_length, backend):
    """32 float32 iterations reach the spectral convergence of 32 float64 ones and of librosa's
    float32 griffinlim, within 1% (Note [phase retrieval precision] in specsep/api.py: the iterates
    themselves drift ~1e-3 apart, librosa's as much)."""
    kw = dict(n_iter=32, hop_length=hop_length, momentum=0.99, init="zeros", length=None)
    S32 = S.astype(np.float32)
    reached = _reached_convergence(specsep.griffin_lim(S32, **kw, backend=backend), S, hop_length)
    in_float64 = _reached_convergence(specsep.griffin_lim(S32, **kw, precision="float64", backend=backend), S,
                                      hop_length)
    theirs = librosa.griffinlim(S32, n_iter=32, init=None, momentum=0.99, hop_length=hop_length)
    assert theirs.dtype == np.float32
    np.testing.assert_allclose(reached, in_float64, rtol=0.01)
    np.testing.assert_allclose(reached, _reached_convergence(theirs, S, hop_length), rtol=0.01)


def test_float32_iterations_reach_float64_convergence(rng, backend):
    x = np.stack([music_like(rng), music_like(rng, f0=330.0), music_like(rng, f0=147.0, decay=0.5)])
    _check_float32_quality(np.abs(specsep.stft(x, n_fft=256, hop_length=64, backend="numpy")), 64, backend)


def test_float32_iterations_reach_float64_convergence_on_music(music_piece, backend):
    mix, _, sr = music_piece
    excerpt = mix[:, 3 * sr:5 * sr]  # 2 s of both channels
    _check_float32_quality(np.abs(specsep.stft(excerpt, n_fft=1024, hop_length=256, backend="numpy")), 256,
                           backend)


def test_unstable_momentum_opt_in(rng, backend):
    """momentum >= 1 runs only when asked for, on every backend the same (librosa runs it too)."""
    x = music_like(rng)
    S = np.abs(librosa.stft(x, n_fft=256, hop_length=64))
    kw = dict(n_iter=6, momentum=1.2, init="zeros", hop_length=64, length=x.size)
    with pytest.raises(ValueError, match="unstable_momentum=True"):
        specsep.griffin_lim(S, **kw, backend=backend)
    ours = specsep.griffin_lim(S, **kw, unstable_momentum=True, backend=backend)
    with pytest.warns(UserWarning):  # librosa warns about momentum > 1 and runs it
        theirs = librosa.griffinlim(S, n_iter=6, momentum=1.2, init=None, hop_length=64, length=x.size)
    assert_close(ours, theirs, GLA_ORACLE_RTOL if backend == "numpy" else 10 * RTOL[np.dtype(np.float64)])
    sources = np.stack([x, 0.5 * x[::-1]])
    S_sources = np.abs(specsep.stft(sources, n_fft=256, hop_length=64, backend="numpy"))
    misi_kw = dict(n_iter=4, momentum=1.1, n_fft=256, hop_length=64, unstable_momentum=True)
    assert_close(specsep.misi(sources.sum(0), S_sources, **misi_kw, backend=backend),
                 specsep.misi(sources.sum(0), S_sources, **misi_kw, backend="numpy"), 10 * RTOL[np.dtype(np.float64)])


@pytest.mark.parametrize("config", GLA_CONFIGS[:3], ids=_ID)
def test_griffin_lim_momentum_zero_equals_literal_loop(rng, config):
    x = music_like(rng)
    stft_kw = dict(config)
    istft_kw = {k: v for k, v in config.items() if k != "pad_mode"}
    S = np.abs(specsep.stft(x, **stft_kw, backend="numpy"))
    angles = np.ones(S.shape, dtype=np.complex128)
    for _ in range(12):
        y = specsep.istft(S * angles, **istft_kw, length=x.size, backend="numpy")
        rebuilt = specsep.stft(y, **stft_kw, backend="numpy")
        angles = rebuilt / (np.abs(rebuilt) + np.finfo(np.float64).tiny)
    expected = specsep.istft(S * angles, **istft_kw, length=x.size, backend="numpy")
    ours = specsep.griffin_lim(S, n_iter=12, momentum=0.0, init="zeros", length=x.size, **config,
                               backend="numpy")
    # the same float64 operations in the same order, up to reassociation: a few ulps, grown over
    # 12 iterations; the per-dtype table's float64 entry with a margin of 100
    assert_close(ours, expected, 100 * RTOL[np.dtype(np.float64)])


def test_griffin_lim_n_iter_zero_is_istft_of_initial_phase(rng):
    x = music_like(rng)
    X = specsep.stft(x, n_fft=256, hop_length=64)
    S = np.abs(X)
    y = specsep.griffin_lim(S, n_iter=0, init=X, hop_length=64, length=x.size, backend="numpy")
    assert_close(y, x, RTOL[np.dtype(np.float64)])
    y0 = specsep.griffin_lim(S, n_iter=0, init="zeros", hop_length=64, backend="numpy")
    assert_close(y0, specsep.istft(S.astype(np.complex128), hop_length=64), RTOL[np.dtype(np.float64)])


# ---- initialisation ----------------------------------------------------------------------------


def test_random_init_reproducible_with_seed(rng):
    S = np.abs(specsep.stft(music_like(rng), n_fft=256, hop_length=64))
    a = specsep.griffin_lim(S, n_iter=3, hop_length=64, rng=123, backend="numpy")
    b = specsep.griffin_lim(S, n_iter=3, hop_length=64, rng=123, backend="numpy")
    c = specsep.griffin_lim(S, n_iter=3, hop_length=64, rng=124, backend="numpy")
    np.testing.assert_array_equal(a, b)
    assert rel_error(a, c) > 1e-3


def test_random_init_with_generator_equals_librosa(rng):
    x = music_like(rng)
    S = np.abs(librosa.stft(x, n_fft=256, hop_length=64))
    ours = specsep.griffin_lim(S, n_iter=10, hop_length=64, momentum=0.99, init="random",
                               rng=np.random.default_rng(7), backend="numpy")
    theirs = librosa.griffinlim(S, n_iter=10, hop_length=64, momentum=0.99, init="random",
                                random_state=np.random.default_rng(7))
    assert_close(ours, theirs, GLA_ORACLE_RTOL)
    # an int seed is the same as default_rng(seed)
    seeded = specsep.griffin_lim(S, n_iter=10, hop_length=64, momentum=0.99, rng=7, backend="numpy")
    assert_close(seeded, ours, RTOL[np.dtype(np.float64)])


@pytest.mark.parametrize("backend", ["cpu", "cuda-emu"])
def test_random_init_angles_within_an_ulp_of_numpy(backend):
    # the cpu backend makes exp(2 pi i u) in C++ from the draws u (cpp/cpu/load_state.hpp);
    # with n_iter=0 the output is the iSTFT of S times those angles, linear in them
    S = np.random.default_rng(0).random((3, 257, 403))
    kw = dict(n_iter=0, n_fft=512, hop_length=128, rng=11)
    theirs = specsep.griffin_lim(S, backend="numpy", **kw)
    ours = specsep.griffin_lim(S, backend=backend, **kw)
    assert np.abs(ours - theirs).max() <= 4e-16 * np.abs(theirs).max() * np.sqrt(S.shape[-2])
    # the draws of the seed, made into angles by NumPy and given as an array: the same signal
    turns = np.random.default_rng(11).random(S.shape)
    given = specsep.griffin_lim(S, init=np.exp(2j * np.pi * turns), backend=backend, **kw)
    assert_close(ours, given, RTOL[np.dtype(np.float64)])


def test_init_complex_array_and_phase_array_agree(rng):
    x = music_like(rng)
    S = np.abs(specsep.stft(x, n_fft=256, hop_length=64))
    phases = rng.uniform(-np.pi, np.pi, S.shape)
    kw = dict(n_iter=5, hop_length=64, momentum=0.5, backend="numpy")
    from_phase = specsep.griffin_lim(S, init=phases, **kw)
    from_complex = specsep.griffin_lim(S, init=3.0 * np.exp(1j * phases), **kw)  # modulus ignored
    assert_close(from_complex, from_phase, RTOL[np.dtype(np.float64)])
    # zero phases == "zeros"
    assert_close(specsep.griffin_lim(S, init=np.zeros(S.shape), **kw),
                 specsep.griffin_lim(S, init="zeros", **kw), RTOL[np.dtype(np.float64)])
    # a broadcastable phase (one per frequency) is accepted
    per_freq = rng.uniform(-np.pi, np.pi, (S.shape[0], 1))
    assert_close(specsep.griffin_lim(S, init=per_freq, **kw),
                 specsep.griffin_lim(S, init=np.broadcast_to(per_freq, S.shape), **kw),
                 RTOL[np.dtype(np.float64)])


def test_float32_in_float32_out(rng):
    x = music_like(rng).astype(np.float32)
    S = np.abs(specsep.stft(x, n_fft=256, hop_length=64))
    assert S.dtype == np.float32
    y, history = specsep.griffin_lim(S, n_iter=5, hop_length=64, return_history=True, backend="numpy")
    assert y.dtype == np.float32
    assert history.dtype == np.float64
    y64 = specsep.griffin_lim(S.astype(np.float64), n_iter=5, hop_length=64, rng=0, backend="numpy")
    y32 = specsep.griffin_lim(S, n_iter=5, hop_length=64, rng=0, precision="float64", backend="numpy")
    # the same float64 iterations: only the input and output roundings differ
    assert_close(y32, y64, 10 * RTOL[np.dtype(np.float32)])


# ---- history and stopping ----------------------------------------------------------------------


def test_spectral_convergence_history_decreases(rng):
    x = np.stack([music_like(rng, f0=f0) for f0 in (196.0, 261.6, 392.0)])
    S = np.abs(specsep.stft(x, n_fft=256, hop_length=64))
    for momentum in (0.0, 0.99):
        y, history = specsep.griffin_lim(S, n_iter=30, hop_length=64, momentum=momentum, rng=1,
                                         length=x.shape[-1], return_history=True, backend="numpy")
        assert history.shape == (3, 30)
        assert np.all(np.isfinite(history)) and np.all(history >= 0)
        assert np.all(history[:, -1] < 0.5 * history[:, 0])
        # decreasing on average: the mean of the last third is below that of the first third
        assert np.all(history[:, 20:].mean(-1) < history[:, :10].mean(-1))
    # with momentum 0 GLA never increases the inconsistency measure (Griffin & Lim 1984)
    _, h0 = specsep.griffin_lim(S, n_iter=30, hop_length=64, momentum=0.0, rng=1, length=x.shape[-1],
                                return_history=True, backend="numpy")
    assert np.all(np.diff(h0, axis=-1) <= 1e-12)


def test_history_first_entry_is_spectral_convergence(rng):
    x = music_like(rng)
    S = np.abs(specsep.stft(x, n_fft=256, hop_length=64))
    _, history = specsep.griffin_lim(S, n_iter=1, hop_length=64, init="zeros", length=x.size,
                                     return_history=True, backend="numpy")
    rebuilt = specsep.stft(specsep.istft(S.astype(np.complex128), hop_length=64, length=x.size), n_fft=256,
                           hop_length=64)
    expected = np.linalg.norm(np.abs(rebuilt) - S) / np.linalg.norm(S)
    np.testing.assert_allclose(history, [expected], rtol=1e-12)


def test_return_history_shape_batched(rng):
    S = np.abs(specsep.stft(rng.standard_normal((2, 3, 1000)), n_fft=128, hop_length=32))
    y, history = specsep.griffin_lim(S, n_iter=4, hop_length=32, return_history=True, backend="numpy")
    assert y.shape == (2, 3, 1000 // 32 * 32)
    assert history.shape == (2, 3, 4)
    y, history = specsep.griffin_lim(S, n_iter=0, hop_length=32, return_history=True, backend="numpy")
    assert history.shape == (2, 3, 0)


def test_tol_stops_items_independently(rng):
    music = music_like(rng)
    noise = rng.standard_normal(music.size)
    x = np.stack([music, noise])
    X = specsep.stft(x, n_fft=256, hop_length=64)
    S = np.abs(X)
    # item 0 starts from its true phase (easy: converges at once); item 1 from random phases (hard)
    init = np.stack([X[0], np.exp(2j * np.pi * rng.random(S.shape[1:]))])
    kw = dict(n_iter=60, hop_length=64, momentum=0.99, tol=1e-2, backend="numpy")
    y, history = specsep.griffin_lim(S, init=init, return_history=True, **kw)
    counts = np.sum(~np.isnan(history), axis=-1)
    # the loop ends once every item has stopped: the history is as long as the longest run
    assert history.shape == (2, counts.max()) and counts.max() <= 60
    assert counts[0] < counts[1], counts
    assert counts[0] >= 2  # an item never stops on its first iteration
    # NaN only after the stopping point
    for item, count in enumerate(counts):
        assert np.all(np.isfinite(history[item, :count])) and np.all(np.isnan(history[item, count:]))
    # each item's result is what it gets alone: the others do not influence when it stops
    for item in range(2):
        alone, h_alone = specsep.griffin_lim(S[item], init=init[item], return_history=True, **kw)
        assert_close(y[item], alone, RTOL[np.dtype(np.float64)])
        np.testing.assert_array_equal(np.isnan(h_alone), np.isnan(history[item, :h_alone.size]))
    # without tol every item runs every iteration
    _, h_all = specsep.griffin_lim(S, init=init, return_history=True, **{**kw, "tol": None})
    assert not np.any(np.isnan(h_all))


def test_tol_stops_items_at_the_reference_iteration(rng, backend, dtype):
    """Every backend stops each item on ``tol`` at the reference's iteration: the same one in
    float64, within one in float32 (whose iterates drift ~1e-4 apart: Note [phase retrieval
    precision] in specsep/api.py)."""
    x = np.stack([music_like(rng, f0=f0, decay=decay) for f0, decay in ((220.0, 1.5), (330.0, 0.5), (147.0, 3.0))])
    S = np.abs(specsep.stft(x, n_fft=256, hop_length=64)).astype(dtype)
    sources, mix = _mixture(rng, batch=(3,), dtype=dtype)
    S_sources = np.abs(specsep.stft(sources, **MISI_KW))
    slack = 0 if dtype == np.float64 else 1
    runs = [(specsep.griffin_lim, (S,), dict(n_iter=60, momentum=0.99, tol=1e-2, rng=2)),
            (specsep.misi, (mix, S_sources), dict(n_iter=80, momentum=0.5, tol=0.01))]
    for method, args, kw in runs:
        _, history = method(*args, hop_length=64, return_history=True, **kw, backend=backend)
        _, expected = method(*args, hop_length=64, return_history=True, **kw, backend="numpy")
        counts, expected_counts = np.sum(~np.isnan(history), axis=-1), np.sum(~np.isnan(expected), axis=-1)
        assert np.all(expected_counts < kw["n_iter"]), expected_counts  # every item stops on tol
        assert np.all(np.abs(counts - expected_counts) <= slack), (counts, expected_counts)


# ---- MISI --------------------------------------------------------------------------------------


def _mixture(rng, batch=(), n_sources=3, length=3000, dtype=np.float64):
    f0s = (196.0, 293.7, 440.0)[:n_sources]
    sources = np.stack([np.stack([music_like(rng, length, f0=f0, decay=1.0 + j)
                                  for j, f0 in enumerate(f0s)])
                        for _ in range(int(np.prod(batch)))])
    sources = sources.reshape(batch + (n_sources, length)).astype(dtype)
    return sources, sources.sum(axis=-2)


MISI_KW = dict(n_fft=256, hop_length=64)


@pytest.mark.parametrize("precision", [None, "float64"])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_misi_sources_sum_to_mixture(rng, backend, dtype, momentum, precision):
    sources, mix = _mixture(rng, batch=(2,), dtype=dtype)
    S = np.abs(specsep.stft(sources, **MISI_KW))
    est = specsep.misi(mix, S, n_iter=5, momentum=momentum, **MISI_KW, precision=precision, backend=backend)
    assert est.shape == (2, 3, mix.shape[-1]) and est.dtype == dtype
    # the error share is added in the iteration's precision and each source rounded once in dtype:
    # a few roundings of the data's precision (3 sources summed)
    limit = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-12}[dtype]
    assert rel_error(est.sum(axis=-2), mix) <= limit


def test_misi_backend_matches_reference(rng, backend, dtype):
    sources, mix = _mixture(rng, batch=(2,), dtype=dtype)
    S = np.abs(specsep.stft(sources, **MISI_KW, backend="numpy"))
    kw = dict(n_iter=4, **MISI_KW, precision="float64")
    est = specsep.misi(mix, S, **kw, backend=backend)
    assert_close(est, specsep.misi(mix, S, **kw, backend="numpy"), 10 * RTOL[dtype])


def test_misi_n_iter_zero_is_mixture_phase_plus_error_share(rng):
    sources, mix = _mixture(rng)
    S = np.abs(specsep.stft(sources, **MISI_KW))
    X_mix = specsep.stft(mix, **MISI_KW)
    phase = np.where(np.abs(X_mix) > 0, X_mix / np.where(np.abs(X_mix) > 0, np.abs(X_mix), 1), 1)
    weights = np.array([0.5, 0.3, 0.2])
    rough = specsep.istft(S * phase, **MISI_KW, length=mix.size)
    expected = rough + weights[:, None] * (mix - rough.sum(axis=0))
    for w in (None, weights):
        est = specsep.misi(mix, S, n_iter=0, init="mixture", weights=w, **MISI_KW, backend="numpy")
        share = np.full(3, 1 / 3) if w is None else w
        exp = rough + share[:, None] * (mix - rough.sum(axis=0))
        assert_close(est, exp, RTOL[np.dtype(np.float64)])
    assert_close(specsep.misi(mix, S, n_iter=0, weights=weights, **MISI_KW, backend="numpy"),
                 expected, RTOL[np.dtype(np.float64)])


def test_misi_weights_route_the_error(rng):
    sources, mix = _mixture(rng, n_sources=2)
    S = np.abs(specsep.stft(sources, **MISI_KW))
    all_to_first = specsep.misi(mix, S, n_iter=0, weights=[1.0, 0.0], **MISI_KW, backend="numpy")
    X_mix = specsep.stft(mix, **MISI_KW)
    rough = specsep.istft(S * np.exp(1j * np.angle(X_mix)), **MISI_KW, length=mix.size)
    # source 1 keeps its plain reconstruction; source 0 takes the whole error
    assert_close(all_to_first[1], rough[1], RTOL[np.dtype(np.float64)])
    assert rel_error(all_to_first.sum(0), mix) <= 1e-12
    even = specsep.misi(mix, S, n_iter=3, **MISI_KW, backend="numpy")
    uneven = specsep.misi(mix, S, n_iter=3, weights=[0.9, 0.1], **MISI_KW, backend="numpy")
    assert rel_error(uneven, even) > 1e-4


def test_misi_history_and_improvement(rng):
    sources, mix = _mixture(rng, batch=(2,))
    S = np.abs(specsep.stft(sources, **MISI_KW))
    for init in ("mixture", "random", "zeros"):
        est, history = specsep.misi(mix, S, n_iter=20, init=init, rng=3, return_history=True, **MISI_KW,
                                    backend="numpy")
        assert history.shape == (2, 20) and history.dtype == np.float64
        assert np.all(np.isfinite(history))
        assert np.all(history[:, 10:].mean(-1) < history[:, :5].mean(-1)), (init, history)
        assert np.all(history[:, -1] < history[:, 0])
    # iterating separates better than the first, mixture-phase estimate (measured: +6 dB on average
    # after 20 iterations here; a 2 dB margin is robust yet fails if the iterations do nothing)
    first = specsep.misi(mix, S, n_iter=0, **MISI_KW, backend="numpy")
    est = specsep.misi(mix, S, n_iter=20, **MISI_KW, backend="numpy")
    gain = specsep.metrics.si_sdr(sources, est) - specsep.metrics.si_sdr(sources, first)
    assert np.mean(gain) > 2.0 and np.all(gain > 0), gain


def test_misi_history_entry_is_spectral_convergence_over_sources(rng):
    sources, mix = _mixture(rng)
    S = np.abs(specsep.stft(sources, **MISI_KW))
    first = specsep.misi(mix, S, n_iter=0, **MISI_KW, backend="numpy")
    _, history = specsep.misi(mix, S, n_iter=1, return_history=True, **MISI_KW, backend="numpy")
    rebuilt = np.abs(specsep.stft(first, **MISI_KW))
    expected = np.linalg.norm(rebuilt - S) / np.linalg.norm(S)
    np.testing.assert_allclose(history, [expected], rtol=1e-12)


def test_misi_length_and_tol(rng):
    sources, mix = _mixture(rng, batch=(2,), length=3000)
    S = np.abs(specsep.stft(sources, **MISI_KW))
    # length: the mixture is fitted first; 3005 samples still give the same frame count
    est = specsep.misi(mix, S, n_iter=2, length=3005, **MISI_KW, backend="numpy")
    assert est.shape == (2, 3, 3005)
    padded = np.concatenate([mix, np.zeros((2, 5))], axis=-1)
    assert rel_error(est.sum(-2), padded) <= 1e-12
    _, history = specsep.misi(mix, S, n_iter=40, tol=0.05, return_history=True, **MISI_KW, backend="numpy")
    counts = np.sum(~np.isnan(history), axis=-1)
    assert np.all(counts >= 2) and np.all(counts < 40)


def test_unmeasured_iterations_give_the_same_signals(rng, backend, dtype):
    """Without return_history and tol the backends measure nothing (no modulus per bin per
    iteration, an empty history) and return the same signals as when they measure."""
    from specsep import _backends, _plan

    x = np.stack([music_like(rng), music_like(rng, f0=330.0)]).astype(dtype)
    S = np.abs(specsep.stft(x, n_fft=256, hop_length=64, backend="numpy"))
    plan = _plan.get(256, 64, None, "hann", True, "constant", False, dtype)
    angles = np.exp(2j * np.pi * np.random.default_rng(4).random(S.shape))
    chosen = _backends.select(backend, S)  # host arrays: cuda-emu stages them
    measured = chosen.griffin_lim(plan, S, 6, 0.9, angles, x.shape[-1], None, history=True)
    unmeasured = chosen.griffin_lim(plan, S, 6, 0.9, angles, x.shape[-1], None, history=False)
    assert measured[1].shape == (2, 6) and unmeasured[1].shape == (2, 0)
    np.testing.assert_array_equal(unmeasured[0], measured[0])
    sources = np.stack([x, 0.5 * x[:, ::-1]], axis=-2)
    S_sources = np.abs(specsep.stft(sources, n_fft=256, hop_length=64, backend="numpy"))
    angles = np.exp(2j * np.pi * np.random.default_rng(5).random(S_sources.shape))
    args = (plan, x, S_sources, 5, 0.5, angles, np.array([0.5, 0.5]), None)
    measured, unmeasured = chosen.misi(*args, history=True), chosen.misi(*args, history=False)
    assert measured[1].shape == (2, 5) and unmeasured[1].shape == (2, 0)
    np.testing.assert_array_equal(unmeasured[0], measured[0])
