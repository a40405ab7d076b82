"""The first GPU run: one command that learns what a first run on a CUDA device can teach.

    python bench/gpu_check.py [--out DIR] [--budget SECONDS]

In order, each step with its share of the time budget (10 minutes by default):

1. the device and the versions (driver, CUDA runtime, CuPy, NVRTC, torch, specsep);
2. ``pytest -m gpu``: the real ``cuda`` backend against the reference (tests/test_gpu.py);
3. ``compute-sanitizer`` memcheck, racecheck and synccheck over every kernel on small grids, when
   compute-sanitizer is on the PATH;
4. ``bench/run.py --gpu --repeats 3``: measured times beside the roofline's predicted ones, and
   their ratio per workload.

It writes ``DIR/gpu-check.json`` and ``DIR/gpu-check.md`` (default ``./gpu-check``) and exits 1
when a step failed. Without a CUDA device it says so in both files and exits 0: nothing could be
checked, and nothing failed.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_SOURCE = ROOT / "python"
if any((_SOURCE / "specsep").glob("_cpu*.so")):  # a checkout with built kernels: use that copy
    sys.path.insert(0, str(_SOURCE))

# Each step's share of the budget, in order; a step also stops when the budget is spent.
SHARES = {"pytest -m gpu": 0.35, "compute-sanitizer": 0.25, "bench --gpu": 0.40}
SANITIZER_TOOLS = ("memcheck", "racecheck", "synccheck")
OUTPUT_TAIL = 4000  # characters of a step's output kept in the report

# Every kernel on small grids (racecheck is slow): the transforms, masks, Griffin-Lim and MISI in
# both precisions, with tol so that the convergence kernel runs too.
SANITIZED_WORKLOAD = """
import cupy, numpy as np, specsep
rng = np.random.default_rng(0)
for dtype in (np.float32, np.float64):
    x = cupy.asarray(rng.standard_normal((2, 2000)).astype(dtype))
    X = specsep.stft(x, n_fft=256, hop_length=64)
    specsep.istft(X, n_fft=256, hop_length=64, length=2000)
    M = cupy.asarray(rng.random((2, 2) + X.shape[-2:]).astype(dtype))
    specsep.separate(x, M, n_fft=256, hop_length=64)
    specsep.griffin_lim(abs(X), n_iter=2, hop_length=64, tol=1e-3)
    specsep.misi(x, cupy.stack([abs(X), abs(X)], axis=1), n_iter=2, hop_length=64, tol=1e-3)
cupy.cuda.Device().synchronize()
"""


def device_and_versions() -> tuple[dict, str | None]:
    """``(facts, missing)``: the device and library versions, and why there is no device (or None)."""
    facts = {"python": sys.version.split()[0], "platform": platform.platform()}
    try:
        import specsep

        facts["specsep"] = specsep.__version__
        facts["backends"] = list(specsep.available_backends())
    except ImportError as error:
        return facts, f"specsep does not import: {error}"
    try:
        import cupy
    except ImportError:
        return facts, "CuPy is not installed (pip install 'specsep[cuda13]' or 'specsep[cuda12]')"
    facts["cupy"] = cupy.__version__
    try:
        torch = __import__("torch")
        facts["torch"] = torch.__version__
    except ImportError:
        pass
    try:
        available = cupy.cuda.is_available()
    except Exception as error:  # noqa: BLE001 - a broken driver raises many kinds of error
        return facts, f"CUDA is unusable: {error}"
    if not available:
        return facts, "no CUDA device (cupy.cuda.is_available() is False)"
    runtime = cupy.cuda.runtime
    facts["devices"] = [runtime.getDeviceProperties(i)["name"].decode() for i in range(runtime.getDeviceCount())]
    facts["driver"] = runtime.driverGetVersion()
    facts["runtime"] = runtime.runtimeGetVersion()
    facts["nvrtc"] = ".".join(map(str, cupy.cuda.nvrtc.getVersion()))
    facts["compute_capability"] = cupy.cuda.Device(0).compute_capability
    return facts, None


def run_step(name, command, timeout, env=None) -> dict:
    """Run ``command``; its status, seconds and the tail of its output."""
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=max(timeout, 1),
                              env=env, check=False)
        status = "passed" if done.returncode == 0 else f"failed (exit status {done.returncode})"
        output = done.stdout + done.stderr
    except subprocess.TimeoutExpired as expired:
        status = f"timed out after {timeout:.0f} s"
        output = "".join(part.decode(errors="replace") if isinstance(part, bytes) else (part or "")
                         for part in (expired.stdout, expired.stderr))
    return {"name": name, "command": " ".join(map(str, command)), "status": status,
            "seconds": round(time.perf_counter() - start, 1), "output_tail": output[-OUTPUT_TAIL:]}


def steps(out: Path, budget: float) -> list[dict]:
    """The checks that need a device, each within its share of ``budget`` seconds."""
    deadline = time.monotonic() + budget
    share = lambda name: min(SHARES[name] * budget, deadline - time.monotonic())  # noqa: E731
    results = [run_step("pytest -m gpu", [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider",
                                          "tests/"], share("pytest -m gpu"))]
    sanitizer = shutil.which("compute-sanitizer")
    if sanitizer is None:
        results.append({"name": "compute-sanitizer", "status": "skipped: compute-sanitizer is not on the PATH"})
    else:
        per_tool = share("compute-sanitizer") / len(SANITIZER_TOOLS)
        for tool in SANITIZER_TOOLS:
            results.append(run_step(f"compute-sanitizer {tool}", [
                sanitizer, "--tool", tool, "--error-exitcode", "1", sys.executable, "-c", SANITIZED_WORKLOAD],
                per_tool))
    bench_json = out / "bench-gpu.json"
    results.append(run_step("bench --gpu", [sys.executable, "bench/run.py", "--gpu", "--repeats", "3", "--quiet",
                                            "--json", bench_json, "--markdown", out / "bench-gpu.md"],
                            share("bench --gpu")))
    return results


def measured_against_predicted(bench_json: Path) -> list[dict]:
    """Per workload: specsep cuda's measured seconds, the model's predicted ones, and their ratio."""
    from specsep.tools.bench import predictions, workloads

    if not bench_json.is_file():
        return []
    summary = {row["workload"]: row for row in json.loads(bench_json.read_text()).get("summary", [])}
    rows = []
    for w in workloads.WORKLOADS:
        predicted = predictions.costs(w)[0].seconds()
        measured = summary.get(w.key, {}).get("specsep_cuda_seconds")
        rows.append({"workload": w.key, "measured_s": measured, "predicted_s": predicted,
                     "measured_over_predicted": measured / predicted if measured else None})
    return rows


def markdown(report: dict) -> str:
    lines = ["# First GPU run", ""]
    if report["missing"]:
        lines += [f"Not run: {report['missing']}. Nothing was checked on a GPU, and nothing failed.", ""]
    lines += ["| fact | value |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in report["facts"].items()]
    if report["steps"]:
        lines += ["", "| step | status | seconds |", "|---|---|---:|"]
        lines += [f"| {s['name']} | {s['status']} | {s.get('seconds', '')} |" for s in report["steps"]]
    if report["predictions"]:
        lines += ["", "specsep cuda, measured beside the roofline's predicted H100 times (a ratio above 1: slower "
                  "than predicted):", "", "| workload | measured, s | predicted, s | measured / predicted |",
                  "|---|---:|---:|---:|"]
        for row in report["predictions"]:
            measured = "n/a" if row["measured_s"] is None else f"{row['measured_s']:.3g}"
            ratio = "n/a" if row["measured_over_predicted"] is None else f"{row['measured_over_predicted']:.2f}"
            lines.append(f"| {row['workload']} | {measured} | {row['predicted_s']:.3g} | {ratio} |")
    for step in report["steps"]:
        if step["status"] not in ("passed",) and step.get("output_tail"):
            lines += ["", f"## {step['name']}: {step['status']}", "", "```text", step["output_tail"], "```"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("gpu-check"), help="report folder (default ./gpu-check)")
    parser.add_argument("--budget", type=float, default=600.0, metavar="SECONDS",
                        help="time for all steps together (default 600)")
    args = parser.parse_args(argv)
    if not args.budget > 0:
        parser.error(f"--budget must be > 0 seconds, got {args.budget}")
    args.out.mkdir(parents=True, exist_ok=True)
    facts, missing = device_and_versions()
    print("\n".join(f"{key}: {value}" for key, value in facts.items()))
    report = {"facts": facts, "missing": missing, "steps": [], "predictions": []}
    if missing:
        print(f"not run: {missing}")
    else:
        for step in steps(args.out, args.budget):
            print(f"{step['name']}: {step['status']}", flush=True)
            report["steps"].append(step)
        report["predictions"] = measured_against_predicted(args.out / "bench-gpu.json")
    (args.out / "gpu-check.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (args.out / "gpu-check.md").write_text(markdown(report))
    print(f"report: {args.out / 'gpu-check.md'}")
    failed = [s for s in report["steps"] if not (s["status"] == "passed" or s["status"].startswith("skipped"))]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
