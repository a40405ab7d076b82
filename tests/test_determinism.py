"""Determinism on every host backend: the same inputs and seed give identical bits on repeated runs,
for any ``specsep.set_num_threads``, from 8 Python threads sharing one plan, and in worker
processes that received the plan by pickle. test_backends/cpu.py checks the cpu backend in depth
(thread counts, instruction sets); this file holds every backend, cuda-emu included (the CUDA
kernels: block-cooperative loops, shared-memory reductions, device-side convergence), to the same
rule on a smaller workload.
"""

from __future__ import annotations

import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

import specsep
from conftest import assert_same_bits


def _workload(backend, dtype):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 2, 3000)).astype(dtype)
    kw = dict(n_fft=256, hop_length=64, win_length=240, window="hann", pad_mode="reflect")
    inverse = {k: v for k, v in kw.items() if k != "pad_mode"}
    X = specsep.stft(x, **kw, backend="numpy")
    masks = rng.random((2, 2, 3) + X.shape[-2:]).astype(dtype)
    S = np.abs(specsep.stft(rng.standard_normal((2, 2, 3000)).astype(dtype), **kw, backend="numpy"))
    return {
        "stft": specsep.stft(x, **kw, backend=backend),
        "stft_odd": specsep.stft(x, n_fft=251, hop_length=60, window="blackman", center=False, backend=backend),
        "istft": specsep.istft(X, **inverse, length=3000, backend=backend),
        "apply_mask": specsep.apply_mask(X, masks, backend=backend),
        "separate": specsep.separate(x, masks, **kw, backend=backend),
        "griffin_lim": specsep.griffin_lim(S[0], n_iter=4, **kw, momentum=0.9, rng=5, length=3000,
                                           return_history=True, backend=backend),
        "griffin_lim_tol": specsep.griffin_lim(S[0], n_iter=12, **kw, rng=6, tol=0.05, return_history=True,
                                               backend=backend),
        "misi": specsep.misi(x[:, 0] + x[:, 1], S.swapaxes(0, 1), n_iter=4, **kw, momentum=0.5,
                             return_history=True, backend=backend),
        "misi_random": specsep.misi(x[:, 0] + x[:, 1], S.swapaxes(0, 1), n_iter=3, **kw, init="random", rng=7,
                                    backend=backend),
    }


@pytest.fixture
def restore_threads():
    before = specsep.get_num_threads()
    yield
    specsep.set_num_threads(before)


def test_same_bits_on_repeated_runs_and_any_thread_count(backend, dtype, restore_threads):
    first = _workload(backend, dtype)
    for threads in (None, 1, 3):
        if threads is not None:
            specsep.set_num_threads(threads)
        again = _workload(backend, dtype)
        for name in first:
            assert_same_bits(again[name], first[name], f"{backend} {name}, threads={threads}")


def _plan_job(plan, x, backend):
    """Forward, inverse and a short Griffin-Lim with one shared plan (module level: it pickles)."""
    X = plan.forward(x, backend=backend)
    y = plan.inverse(X, length=x.shape[-1], backend=backend)
    g = specsep.griffin_lim(np.abs(X[..., :12]), n_iter=3, n_fft=plan.n_fft, hop_length=plan.hop_length,
                            init="zeros", backend=backend)
    return X, y, g


def _plan_and_signals():
    plan = specsep.STFT(n_fft=256, hop_length=64, window="hann", pad_mode="reflect", dtype=np.float32)
    signals = [np.random.default_rng(i).standard_normal((2, 3000 + 37 * i)).astype(np.float32) for i in range(12)]
    return plan, signals


def test_one_plan_from_eight_python_threads(backend):
    plan, signals = _plan_and_signals()
    serial = [_plan_job(plan, x, backend) for x in signals]
    for _ in range(2):
        with ThreadPoolExecutor(max_workers=8) as pool:
            concurrent = list(pool.map(_plan_job, [plan] * len(signals), signals, [backend] * len(signals)))
        for i, (a, b) in enumerate(zip(concurrent, serial)):
            assert_same_bits(a, b, f"signal {i} from 8 threads")


def test_pickled_plan_in_worker_processes(backend):
    """Plans travel to process pools (and Dask workers) by pickle and compute the same bits there."""
    plan, signals = _plan_and_signals()
    assert pickle.loads(pickle.dumps(plan)) == plan
    # spawn: fresh interpreters, as Dask workers and other platforms start them (and no fork of a
    # process whose kernel thread pool is running)
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        remote = list(pool.map(_plan_job, [plan] * 4, signals[:4], [backend] * 4))
    for i, (a, x) in enumerate(zip(remote, signals)):
        assert_same_bits(a, _plan_job(plan, x, backend), f"signal {i} in a worker process")
