"""The files of ``specsep oracle``: ``results.csv`` (every score, full precision) and
``summary.md`` (the tables a person reads).

Both depend only on the results, never on timings, so that a run on a Dask cluster writes the
same bytes as a run in one process.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from ..oracle import MASKS

CSV_COLUMNS = ("track", "source", "si_sdr", "snr", "sdr", "seconds", "error")


def results_csv(results) -> str:
    """``results.csv``: a row per track and source (``error`` empty), a row per failed track
    (``source`` and the scores empty). Scores in dB and ``seconds`` (the track's duration) as
    Python writes floats, exactly; ``sdr`` empty where BSS Eval was not computed."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in results:
        if not r.ok:
            writer.writerow([r.track, "", "", "", "", "", r.error])
            continue
        sdr = r.sdr if r.sdr is not None else (None,) * len(r.sources)
        for name, si_sdr, snr, bss in zip(r.sources, r.si_sdr, r.snr, sdr):
            writer.writerow([r.track, name, _exact(si_sdr), _exact(snr), _exact(bss), _exact(r.seconds), ""])
    return text.getvalue()


def _exact(value) -> str:
    """The shortest text that reads back as the same float; empty for None."""
    return "" if value is None else repr(float(value))


def summary_markdown(results, dataset, mask, power, bss_eval) -> str:
    """``summary.md``: the settings, the mean and median per source, every track's scores, the
    failed tracks with their reasons, and notes."""
    ok = [r for r in results if r.ok]
    failed = [r for r in results if not r.ok]
    title = MASKS[mask] + (f", power {power:g}" if mask in ("irm", "wiener") else "")
    sizes = sorted({(r.sample_rate, r.n_fft, r.hop_length) for r in ok})
    lines = [
        f"# specsep oracle: {title}",
        "",
        f"- dataset: `{dataset}`, {_count(len(results), 'track')}: {len(ok)} separated, {len(failed)} failed",
        "- STFT: periodic Hann window, centred, zero padding; "
        + ("; ".join(f"n_fft {n_fft}, hop {hop} at {sr} Hz" for sr, n_fft, hop in sizes)
           or "no size to report, as no track was separated"),
        "- scores: dB per source, over all its channels; SI-SDR; SNR = 10 log10(|s|^2 / |s - ŝ|^2); "
        + ("SDR = BSS Eval SDR (fast_bss_eval, 512-tap distortion filters)" if bss_eval
           else "SDR not computed (fast_bss_eval is not installed)"),
    ]
    if ok:
        lines += ["", "## Per source", "", *_per_source(ok, bss_eval), "", "## Tracks", "", *_per_track(ok, bss_eval)]
    if failed:
        lines += ["", "## Failed tracks", "", "| track | reason |", "|---|---|"]
        lines += [f"| {_cell(r.track)} | {_cell(r.error)} |" for r in failed]
    notes = [f"- {r.track}: {note}" for r in ok for note in r.notes]
    if notes:
        lines += ["", "## Notes", "", *notes]
    return "\n".join(lines) + "\n"


def _per_source(ok, bss_eval):
    metrics = [("SI-SDR", "si_sdr"), ("SNR", "snr")] + ([("SDR", "sdr")] if bss_eval else [])
    header = "| source | tracks | " + " | ".join(f"{label} mean | {label} median" for label, _ in metrics) + " |"
    rule = "|---|---:|" + "---:|---:|" * len(metrics)
    names = sorted({name for r in ok for name in r.sources})
    rows = []
    for name in names:
        cells = [name, str(sum(name in r.sources for r in ok))]
        for _, key in metrics:
            values = [getattr(r, key)[r.sources.index(name)] for r in ok if name in r.sources]
            cells += [_db(np.mean(values)), _db(np.median(values))]
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return [header, rule, *rows]


def _per_track(ok, bss_eval):
    header = "| track | seconds | source | SI-SDR | SNR |" + (" SDR |" if bss_eval else "")
    rule = "|---|---:|---|---:|---:|" + ("---:|" if bss_eval else "")
    rows = []
    for r in ok:
        for j, name in enumerate(r.sources):
            cells = [r.track, f"{r.seconds:.2f}", name, _db(r.si_sdr[j]), _db(r.snr[j])]
            cells += [_db(r.sdr[j])] if bss_eval else []
            rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return [header, rule, *rows]


def _db(value) -> str:
    return f"{value:.2f}"


def _count(n, noun) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def _cell(text) -> str:
    """Text that cannot break a markdown table row."""
    return str(text).replace("|", "\\|").replace("\n", " ")
