"""Windows and the COLA / NOLA conditions against scipy.signal."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

import specsep
from conftest import ORACLE_RTOL, assert_close

SCIPY_NAME = {
    "hann": "hann",
    "hamming": "hamming",
    "blackman": "blackman",
    "triangle": "triang",
    "rectangular": "boxcar",
}
WINDOW_NAMES = ("hann", "sqrt_hann", "hamming", "blackman", "triangle", "rectangular")
LENGTHS = (1, 2, 3, 4, 5, 7, 8, 13, 16, 31, 97, 100, 255, 256, 509, 1024, 1031, 4096)


def scipy_window(name: str, n: int) -> np.ndarray:
    if name == "sqrt_hann":
        return np.sqrt(scipy.signal.get_window("hann", n, fftbins=True))
    return scipy.signal.get_window(SCIPY_NAME[name], n, fftbins=True)


def test_window_names_are_the_documented_ones():
    assert set(WINDOW_NAMES) == set(SCIPY_NAME) | {"sqrt_hann"}
    from specsep._windows import WINDOW_NAMES as library_names

    assert tuple(sorted(library_names)) == tuple(sorted(WINDOW_NAMES))


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("name", WINDOW_NAMES)
def test_get_window_equals_scipy_periodic(name, n):
    window = specsep.get_window(name, n)
    expected = scipy_window(name, n)
    assert window.shape == (n,)
    assert window.dtype == np.float64
    assert_close(window, expected, ORACLE_RTOL)
    # periodic, not symmetric: for n >= 3 the last point differs from the symmetric window's
    if name not in ("rectangular",) and n >= 3:
        symmetric = scipy.signal.get_window(SCIPY_NAME.get(name, "hann"), n, fftbins=False)
        if name == "sqrt_hann":
            symmetric = np.sqrt(symmetric)
        assert np.max(np.abs(window - symmetric)) > 1e-6


@pytest.mark.parametrize("n", LENGTHS)
def test_exact_zeros_are_zeros(n):
    """hann, sqrt_hann and blackman vanish at their first point; it must be 0.0, not rounding noise
    (scipy's blackman has -1.4e-17 there, whose square the iSTFT would divide by)."""
    for name in ("hann", "sqrt_hann", "blackman"):
        window = specsep.get_window(name, n)
        assert window[0] == (1.0 if n == 1 else 0.0)
        assert np.all(window >= 0)
        assert np.count_nonzero(window == 0) == (0 if n == 1 else 1)  # no other point is snapped


def test_get_window_accepts_numpy_integers():
    assert_close(specsep.get_window("hann", np.int64(64)), scipy_window("hann", 64), ORACLE_RTOL)


def test_window_of_one_point_is_one():
    for name in WINDOW_NAMES:
        np.testing.assert_array_equal(specsep.get_window(name, 1), [1.0])


# ---------------------------------------------------------------------------------------------
# COLA / NOLA against scipy's check_COLA / check_NOLA(window, n, n - hop)

GRID_LENGTHS = (1, 2, 3, 4, 5, 8, 9, 16, 17, 30, 64, 100)


def _hops(n):
    return sorted({1, 2, 3, n // 4, n // 3, n // 2, n - 1, n} & set(range(1, n + 1)))


def _grid():
    for name in WINDOW_NAMES:
        for n in GRID_LENGTHS:
            for hop in _hops(n):
                yield name, n, hop


def test_cola_and_nola_grid_has_both_answers():
    """The grid below is only a test if it contains windows that pass and windows that fail."""
    answers = {(scipy.signal.check_COLA(scipy_window(name, n), n, n - hop),
                scipy.signal.check_NOLA(scipy_window(name, n), n, n - hop))
               for name, n, hop in _grid()}
    assert {a[0] for a in answers} == {True, False}
    assert {a[1] for a in answers} == {True, False}


@pytest.mark.parametrize("name", WINDOW_NAMES)
def test_check_cola_nola_agree_with_scipy(name):
    for n in GRID_LENGTHS:
        window = scipy_window(name, n)
        for hop in _hops(n):
            cola = scipy.signal.check_COLA(window, n, n - hop)
            nola = scipy.signal.check_NOLA(window, n, n - hop)
            context = f"{name} n={n} hop={hop}"
            assert specsep.check_cola(name, hop, win_length=n) is bool(cola), context
            assert specsep.check_nola(name, hop, win_length=n) is bool(nola), context
            assert specsep.check_cola(window, hop) is bool(cola), context
            assert specsep.check_nola(window, hop) is bool(nola), context
            assert specsep.check_cola(list(window), hop) is bool(cola), context


@pytest.mark.parametrize("seed", range(4))
def test_check_cola_nola_agree_with_scipy_on_random_arrays(seed):
    rng = np.random.default_rng(seed)
    for n in (6, 12, 20):
        # sparse windows: NOLA fails for hops whose residues all land on zeros
        window = rng.random(n) * (rng.random(n) < 0.5)
        for hop in range(1, n + 1):
            assert specsep.check_nola(window, hop) is bool(scipy.signal.check_NOLA(window, n, n - hop))
            assert specsep.check_cola(window, hop) is bool(scipy.signal.check_COLA(window, n, n - hop))


def test_known_cola_cases():
    # textbook facts, independent of scipy
    assert specsep.check_cola("hann", 256, win_length=1024)
    assert specsep.check_cola("hann", 512, win_length=1024)
    assert specsep.check_cola("rectangular", 100, win_length=100)
    assert not specsep.check_cola("hann", 300, win_length=1024)
    assert specsep.check_nola("hann", 300, win_length=1024)
    assert not specsep.check_nola("hann", 1024, win_length=1024)  # hann[0] == 0
    assert specsep.check_nola("triangle", 1024, win_length=1024)  # periodic triangle has no zero


def test_check_integer_window_array():
    assert specsep.check_cola(np.ones(8, dtype=np.int32), 4)
    assert not specsep.check_nola(np.array([1, 0, 1, 0]), 2)


# ---------------------------------------------------------------------------------------------
# errors


def test_unknown_window_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"window='hanning' is not one of .*'hann'.*'sqrt_hann'.*'rectangular'"):
        specsep.get_window("hanning", 16)
    with pytest.raises(ValueError, match=r"window='kaiser' is not one of"):
        specsep.check_cola("kaiser", 4, win_length=16)
    with pytest.raises(ValueError, match=r"window='kaiser' is not one of"):
        specsep.check_nola("kaiser", 4, win_length=16)


@pytest.mark.parametrize("bad, error, message", [
    (0, ValueError, r"n=0 must be >= 1"),
    (-3, ValueError, r"n=-3 must be >= 1"),
    (16.0, TypeError, r"n must be an integer, got float"),
    (True, TypeError, r"n must be an integer, got bool"),
    (np.bool_(True), TypeError, r"n must be an integer"),
    ("16", TypeError, r"n must be an integer, got str"),
])
def test_get_window_bad_length(bad, error, message):
    with pytest.raises(error, match=message):
        specsep.get_window("hann", bad)


def test_named_window_needs_win_length():
    with pytest.raises(TypeError, match="win_length is required"):
        specsep.check_cola("hann", 4)
    with pytest.raises(ValueError, match=r"win_length=0 must be >= 1"):
        specsep.check_nola("hann", 4, win_length=0)
    with pytest.raises(TypeError, match=r"win_length must be an integer"):
        specsep.check_nola("hann", 4, win_length=16.0)


@pytest.mark.parametrize("check", [specsep.check_cola, specsep.check_nola])
def test_check_bad_arguments(check):
    with pytest.raises(ValueError, match="finite"):
        check(np.array([1.0, np.nan, 1.0, 1.0]), 2)
    with pytest.raises(ValueError, match="finite"):
        check(np.array([1.0, np.inf, 1.0, 1.0]), 2)
    with pytest.raises(ValueError, match=r"1-D array, got shape \(2, 4\)"):
        check(np.ones((2, 4)), 2)
    with pytest.raises(ValueError, match=r"non-empty 1-D array, got shape \(0,\)"):
        check(np.ones(0), 2)
    with pytest.raises(TypeError, match="real 1-D array, got dtype complex128"):
        check(np.ones(4, dtype=complex), 2)
    with pytest.raises(TypeError, match="real 1-D array, got dtype bool"):
        check(np.ones(4, dtype=bool), 2)
    with pytest.raises(ValueError, match=r"hop_length=0 must be >= 1"):
        check(np.ones(4), 0)
    with pytest.raises(TypeError, match=r"hop_length must be an integer, got float"):
        check(np.ones(4), 2.0)
    with pytest.raises(TypeError, match=r"hop_length must be an integer, got bool"):
        check("hann", True, win_length=4)
