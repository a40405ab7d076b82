"""The GPU run (``python bench/run.py --gpu``, ``specsep bench --gpu``): specsep's ``cuda`` backend
against torch on CUDA and cupyx.scipy.signal (:mod:`.gpu_peers`), on the workloads of the CPU run,
beside the roofline's predicted H100 times (:mod:`.predictions`).

Where CuPy finds no CUDA device, nothing is timed: it prints one line saying why ("not measured:
...") and the prediction table, which needs no GPU, and exits with status 0 (the predictions are
the output). With a device, the exit status is 1 when an output disagrees with specsep cpu's or an
implementation failed, as in the CPU run.
"""

from __future__ import annotations

from . import devices, harness, predictions, report

SUBJECT = "specsep-cuda"

TIMING_NOTE = (
    "Timing on the device: every timed run starts and ends with a synchronisation (CuPy's current "
    "stream; torch.cuda.synchronize()), so the clock stops when the work is done; inputs, and "
    "Griffin-Lim's initial phases, are copied to the device before timing (host-device transfers "
    "are not timed); outputs are copied back after it and checked against specsep cpu on the host. "
    "The first run of each implementation (a warm-up by default) compiles specsep's kernels (NVRTC) and "
    "makes the FFT plans.")


def speedup_table(workloads, summary, device_name) -> str:
    """specsep cuda against the fastest GPU peer, beside the predicted H100 times."""
    lines = [f"specsep cuda against the fastest GPU peer, measured on {device_name}; beside it the roofline's "
             "predicted H100 times for specsep cuda and torch (predictions, whatever the device measured):", "",
             "| workload | specsep cuda, s | fastest GPU peer | its seconds | speed-up | predicted H100: specsep "
             "cuda, s | torch, s | speed-up |",
             "|---|---:|---|---:|---:|---:|---:|---:|"]
    by = {row["workload"]: row for row in summary}
    for w in workloads:
        ours, torch = predictions.costs(w)
        predicted = (f"{report._seconds(ours.seconds())} | {report._seconds(torch.seconds())} | "
                     f"{torch.seconds() / ours.seconds():.1f}x")
        row = by.get(w.key, {})
        mine = row.get("specsep_cuda_seconds")
        if row.get("speedup") is None:
            measured = f"{report._seconds(mine) if mine else 'n/a'} | n/a | n/a | n/a"
        else:
            measured = (f"{report._seconds(mine)} | {row['fastest_peer_label']} | "
                        f"{report._seconds(row['fastest_peer_seconds'])} | {row['speedup']:.2f}x")
        lines.append(f"| {w.key} {w.title} | {measured} | {predicted} |")
    return "\n".join(lines)


def run(args, command, workloads, implementations, threads, finish) -> int:
    """The GPU run of ``workloads``; ``finish`` (``specsep.tools.bench._finish``) writes the requested
    files (markdown, JSON, plot) and returns the exit status."""
    info = report.machine(threads)
    missing = devices.cuda_missing()
    device = None if missing else devices.describe()
    settings = {
        "command": command,
        "gpu": True,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "threads": threads,
        "quick": args.quick,
        "skip_slow": args.skip_slow,
        "slow_implementations": [],
    }
    extra = {"gpu": {"device": device, "not_measured": missing and f"not measured: {missing}",
                     "predictions": predictions.rows(workloads)}}
    header = [f"specsep GPU benchmark, {info['date']}", f"machine: {report.machine_line(info)}",
              f"device: {devices.device_line(device) if device else 'none'}", f"command: {command}",
              report.workload_lines(workloads)]
    print("\n".join(header) + "\n", flush=True)
    header[3] = f"command: `{command}`"
    header = "\n\n".join(header)
    if missing:
        text = f"not measured: {missing}\n\n{predictions.table(workloads)}"
        print(text)
        return finish(args, workloads, header, text, [], [], info, settings, extra, plot_title=None)

    cells = harness.run(workloads, implementations, threads=threads, warmup=args.warmup, repeats=args.repeats,
                        skip_slow=args.skip_slow, verbose=not args.quiet)
    summary = harness.summarize(workloads, cells, subject=SUBJECT, goal=None)
    text = "\n\n".join([TIMING_NOTE, report.times_table(workloads, cells, settings),
                        speedup_table(workloads, summary, device["name"]), report.agreement_table(workloads, cells),
                        predictions.table(workloads)])
    print(text)
    return finish(args, workloads, header, text, cells, summary, info, settings, extra,
                  plot_title=f"specsep GPU benchmark, {info['date']}: {device['name']}")
