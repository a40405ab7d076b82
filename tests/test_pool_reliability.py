"""The ``cpu`` backend's thread pool where processes and threads misbehave: ``os.fork`` (from a
multiprocessing pool, and while another thread transforms), a system that cannot start the threads
asked for, and Ctrl-C during a long call. Each case runs in a child process with a timeout, so
that a hang fails the test instead of stopping the run.
The pool's own code is also raced and checked for memory errors: cpp/cpu/pool_stress.cpp under
ThreadSanitizer and AddressSanitizer + UndefinedBehaviorSanitizer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import specsep
from conftest import subprocess_env

pytestmark = pytest.mark.skipif("cpu" not in specsep.available_backends(), reason="cpu backend not built")

PRELUDE = """\
import os, resource, signal, sys, threading, time, warnings
import multiprocessing
import numpy as np
import specsep

def signal_(n, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(n).astype(dtype)

def stft(x, threads=None):
    if threads is not None:
        specsep.set_num_threads(threads)
    return specsep.stft(x, n_fft=512, hop_length=128, backend="cpu")
"""


def run_child(body, timeout=60):
    """Runs PRELUDE + ``body`` in a fresh interpreter; fails on a non-zero exit or a timeout."""
    script = PRELUDE + textwrap.dedent(body)
    try:
        done = subprocess.run([sys.executable, "-c", script], env=subprocess_env(), capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as hung:
        pytest.fail(f"the child process hung ({timeout} s): {hung.stdout!r} {hung.stderr!r}")
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


# =============================================================================================
# os.fork: the child gets the pool's state but not its threads


def test_fork_pool_initializer_sets_threads():
    """multiprocessing's fork workers call set_num_threads and transform after the parent used the pool."""
    run_child("""
        x = signal_((3, 40000))
        expected = stft(x, threads=3)
        with multiprocessing.get_context("fork").Pool(2, initializer=specsep.set_num_threads, initargs=(1,)) as pool:
            results = pool.map(stft, [x, x, x])
        for result in results:
            np.testing.assert_array_equal(result, expected)
    """)


def test_forked_child_transforms_and_exits():
    """A forked child keeps the thread count, builds its own pool, and exits normally."""
    run_child("""
        x = signal_((3, 40000))
        expected = stft(x, threads=3)
        pid = os.fork()
        if pid == 0:
            assert specsep.get_num_threads() == 3
            np.testing.assert_array_equal(stft(x), expected)
            np.testing.assert_array_equal(stft(x, threads=2), expected)
            sys.exit(0)  # interpreter finalisation and static destructors run
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
    """)


def test_fork_while_another_thread_transforms():
    """Fork while a second thread is inside the pool (its locks held): the child must not deadlock."""
    run_child("""
        x = signal_((3, 40000))
        expected = stft(x, threads=2)
        big = signal_((8, 400000))
        inside, stop = threading.Event(), threading.Event()

        def transform():
            while not stop.is_set():
                inside.set()
                stft(big)

        worker = threading.Thread(target=transform)
        worker.start()
        inside.wait()
        time.sleep(0.05)
        pid = os.fork()
        if pid == 0:
            np.testing.assert_array_equal(stft(x), expected)
            np.testing.assert_array_equal(stft(x, threads=3), expected)
            sys.exit(0)
        _, status = os.waitpid(pid, 0)
        stop.set()
        worker.join()
        assert os.waitstatus_to_exitcode(status) == 0, status
        np.testing.assert_array_equal(stft(x), expected)
    """)


# =============================================================================================
# Threads the system cannot start


def test_threads_that_cannot_start():
    """Under an address-space limit the pool keeps the threads that started, warns, and says so."""
    run_child("""
        x = signal_((3, 40000))
        expected = stft(x, threads=1)
        with open("/proc/self/status") as status:
            vm_kib = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
        limit = (vm_kib << 10) + (512 << 20)  # room for a few dozen thread stacks, not 4000
        unlimited = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (limit, unlimited[1]))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            specsep.set_num_threads(4000)
        # Lifted before the transforms: the started threads' malloc arenas (64 MiB of address space
        # each, more of them when the threads contend, as on a loaded machine) are not under test.
        resource.setrlimit(resource.RLIMIT_AS, unlimited)
        started = specsep.get_num_threads()
        assert 1 <= started < 4000, started
        assert len(caught) == 1 and caught[0].category is RuntimeWarning, caught
        assert f"could start only {started} of 4000 threads" in str(caught[0].message), caught[0].message
        np.testing.assert_array_equal(stft(x), expected)
        np.testing.assert_array_equal(stft(x, threads=2), expected)
        assert specsep.get_num_threads() == 2
    """)


# =============================================================================================
# Ctrl-C during a long call (0.5 s in): KeyboardInterrupt within 0.5 s, then the next call is exact

# name: (threads, setup, a short call, a call that runs for many seconds uninterrupted, here and on
# machines several times faster); the inputs are made in the setup, so that the signal comes while
# the kernel runs (separate's check of its masks takes ~1/30 of its kernel's time)
LONG_CALLS = {
    "griffin_lim": (2, """
        S = np.abs(specsep.stft(signal_(100000), n_fft=1024, hop_length=256, backend="cpu"))
        def call(n_iter):
            return specsep.griffin_lim(S, n_iter=n_iter, hop_length=256, rng=0, backend="cpu")
     """, "call(3)", "call(100000)"),
    "misi": (2, """
        x = signal_(100000)
        S = np.abs(specsep.stft(np.stack([x, signal_(100000, seed=1)]), n_fft=1024, hop_length=256, backend="cpu"))
        def call(n_iter):
            return specsep.misi(x, S, n_iter=n_iter, n_fft=1024, hop_length=256, backend="cpu")
     """, "call(3)", "call(50000)"),
    # one thread: the loop runs on the calling thread alone, without the pool; a 3 GB output, of
    # which only the pages written before the interrupt are touched
    "stft": (1, """
        x = signal_(24_000_000)
        def call(samples):
            return specsep.stft(x[:samples], n_fft=65536, hop_length=2048, backend="cpu")
     """, "call(100000)", "call(len(x))"),
    "istft": (2, """
        X = specsep.stft(signal_(100000), n_fft=8192, hop_length=32, backend="cpu")
        def call(batch):
            return specsep.istft(np.broadcast_to(X, (batch,) + X.shape), n_fft=8192, hop_length=32, backend="cpu")
     """, "call(1)", "call(1000)"),
    "separate": (2, """
        x = signal_(100000, dtype=np.float64)
        def call(sources):
            M = np.broadcast_to(0.5, (sources, 4097, 3126))
            return specsep.separate(x, M, n_fft=8192, hop_length=32, backend="cpu")
     """, "call(1)", "call(8)"),
}


@pytest.mark.parametrize("name", list(LONG_CALLS))
def test_ctrl_c_interrupts_long_call(name):
    threads, setup, short, long = LONG_CALLS[name]
    out = run_child(textwrap.dedent(setup) + f"""
specsep.set_num_threads({threads})
expected = {short}
sent = []

def interrupt():
    sent.append(time.monotonic())
    os.kill(os.getpid(), signal.SIGINT)

threading.Timer(0.5, interrupt).start()
try:
    {long}
except KeyboardInterrupt:
    latency = time.monotonic() - sent[0]
else:
    sys.exit("the call ended before Ctrl-C")
assert latency < 0.5, f"KeyboardInterrupt came {{latency:.2f}} s after SIGINT"
np.testing.assert_array_equal({short}, expected)
print(f"latency {{latency:.3f}} s")
""")
    assert out.startswith("latency")


# =============================================================================================
# The pool under the sanitizers

CPU = Path(__file__).resolve().parents[1] / "cpp" / "cpu"
CXX = os.environ.get("CXX", "g++")
SANITIZERS = {
    # (flags, driver argument, environment); TSan cannot start threads in a fork child
    "tsan": (["-O1", "-fsanitize=thread"], [], {"TSAN_OPTIONS": "halt_on_error=1 exitcode=66"}),
    "asan": (["-O0", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"], ["fork"],
             {"ASAN_OPTIONS": "detect_leaks=0", "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}),
}


@pytest.mark.parametrize("sanitizer", list(SANITIZERS))
def test_pool_under_sanitizer(sanitizer, tmp_path):
    """Callers on several threads, thread counts changed meanwhile, exceptions, interrupts, nesting, fork."""
    if shutil.which(CXX) is None:
        pytest.skip(f"{CXX} is not installed")
    flags, args, env = SANITIZERS[sanitizer]
    driver = tmp_path / "pool_stress"
    built = subprocess.run([CXX, "-std=c++17", "-g", "-fno-omit-frame-pointer", "-Wall", "-Wextra", "-Werror",
                            *flags, f"-I{CPU}", str(CPU / "pool_stress.cpp"), str(CPU / "thread_pool.cpp"),
                            "-pthread", "-o", str(driver)], capture_output=True, text=True)
    if built.returncode != 0 and "sanitize" in built.stderr and "cannot find" in built.stderr:
        pytest.skip(f"{CXX} has no {sanitizer} runtime: {built.stderr.strip()[-200:]}")
    assert built.returncode == 0, built.stderr
    command = [str(driver), *args]
    env = {**os.environ, **env}
    ran = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    if "unexpected memory mapping" in ran.stderr and shutil.which("setarch"):
        # TSan of GCC 12 cannot cope with the high ASLR entropy of recent kernels: run without ASLR.
        ran = subprocess.run(["setarch", os.uname().machine, "-R", *command], capture_output=True, text=True,
                             env=env, timeout=300)
    assert ran.returncode == 0 and "Sanitizer" not in ran.stderr, ran.stdout + ran.stderr
    assert ran.stdout.strip() == "pool_stress: ok"
