"""bench/gpu_check.py, the first-GPU-run kit: everything but the GPU itself is tested here (its
no-device mode end to end, the step runner, the time budget, the report)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import subprocess_env

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "gpu_check.py"


@pytest.fixture(scope="module")
def kit():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _has_device():
    try:
        import cupy
    except ImportError:
        return False
    return cupy.cuda.is_available()


@pytest.mark.skipif(_has_device(), reason="a CUDA device is present: the kit would run for real")
def test_without_a_device_it_says_so_and_exits_0(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path / "report")], capture_output=True,
                          text=True, timeout=120, env=subprocess_env(), check=False)
    assert done.returncode == 0, done.stderr
    assert "not run: " in done.stdout
    report = json.loads((tmp_path / "report" / "gpu-check.json").read_text())
    assert report["missing"] and report["steps"] == [] and report["facts"]["specsep"]
    text = (tmp_path / "report" / "gpu-check.md").read_text()
    assert text.startswith("# First GPU run") and "Nothing was checked on a GPU" in text


def test_bad_budget_is_refused(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--budget", "0", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=60, env=subprocess_env(), check=False)
    assert done.returncode == 2 and "--budget must be > 0" in done.stderr


def test_run_step_reports_pass_failure_and_timeout(kit):
    passed = kit.run_step("ok", [sys.executable, "-c", "print('fine')"], 30)
    assert passed["status"] == "passed" and "fine" in passed["output_tail"]
    failed = kit.run_step("bad", [sys.executable, "-c", "import sys; print('broken'); sys.exit(3)"], 30)
    assert failed["status"] == "failed (exit status 3)" and "broken" in failed["output_tail"]
    slow = kit.run_step("slow", [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(30)"], 1)
    assert slow["status"] == "timed out after 1 s" and slow["seconds"] < 20


def test_steps_share_the_budget_in_order(kit, monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(kit, "run_step", lambda name, command, timeout, env=None: calls.append((name, timeout)) or {
        "name": name, "status": "passed"})
    monkeypatch.setattr(kit.shutil, "which", lambda name: "/usr/bin/compute-sanitizer")
    kit.steps(tmp_path, 100.0)
    assert [name for name, _ in calls] == ["pytest -m gpu", "compute-sanitizer memcheck", "compute-sanitizer racecheck",
                                           "compute-sanitizer synccheck", "bench --gpu"]
    assert calls[0][1] == pytest.approx(35, abs=0.5) and calls[1][1] == pytest.approx(25 / 3, abs=0.5)
    assert sum(timeout for _, timeout in calls) <= 100.0
    calls.clear()
    monkeypatch.setattr(kit.shutil, "which", lambda name: None)
    results = kit.steps(tmp_path, 100.0)
    assert [name for name, _ in calls] == ["pytest -m gpu", "bench --gpu"]
    assert results[1]["status"].startswith("skipped: compute-sanitizer is not on the PATH")


def test_report_puts_measured_beside_predicted(kit, tmp_path):
    from specsep.tools.bench import predictions, workloads

    first = workloads.WORKLOADS[0]
    predicted = predictions.costs(first)[0].seconds()
    bench = tmp_path / "bench-gpu.json"
    bench.write_text(json.dumps({"summary": [{"workload": first.key, "specsep_cuda_seconds": 2 * predicted}]}))
    rows = kit.measured_against_predicted(bench)
    assert [row["workload"] for row in rows] == list(workloads.KEYS)
    assert rows[0]["measured_over_predicted"] == pytest.approx(2.0)
    assert rows[1]["measured_s"] is None and rows[1]["measured_over_predicted"] is None
    report = {"facts": {"devices": ["H200"]}, "missing": None, "predictions": rows, "steps": [
        {"name": "pytest -m gpu", "status": "passed", "seconds": 3.0, "output_tail": "ok"},
        {"name": "bench --gpu", "status": "failed (exit status 1)", "seconds": 9.0, "output_tail": "Traceback"}]}
    text = kit.markdown(report)
    assert f"| {first.key} | " in text and "| 2.00 |" in text
    assert "## bench --gpu: failed (exit status 1)" in text and "Traceback" in text
    assert "## pytest -m gpu" not in text
    assert kit.measured_against_predicted(tmp_path / "absent.json") == []
