"""Figures for the commands: spectrograms in dB, masks, differences and convergence curves, as PNG
files.

Drawn on matplotlib's Agg canvas attached to the figure directly: no pyplot, no global backend
switch, safe in worker threads and processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from specsep import amplitude_to_db

from . import outputs

_DB_RANGE = 80.0  # every dB panel shows the same 80 dB below the figure's loudest bin
_DIFFERENCE_RANGE = 20.0  # a difference panel shows -20 to +20 dB
_LOWEST_HZ = 30.0  # a log-frequency axis starts here: below it music holds little, and 0 Hz is -inf
_PANEL_SIZE = (3.6, 1.9)  # inches per panel (width, height)
_STYLE = {  # kind -> colour map, colour range, colour bar label
    "db": ("magma", (-_DB_RANGE, 0.0), "dB re loudest bin"),
    "mask": ("viridis", (0.0, 1.0), "mask value"),
    "difference": ("RdBu_r", (-_DIFFERENCE_RANGE, _DIFFERENCE_RANGE), "dB, rebuilt - target"),
}
#: The choices of a figure's frequency axis: log (the default: bass and chords get room) or linear.
FREQ_AXES = ("log", "linear")

MISSING = "matplotlib is not installed: no figure (pip install matplotlib)"


def available() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def add_freq_axis_option(parser) -> None:
    """Add ``--freq-axis {log,linear}`` to a command that draws spectrograms."""
    parser.add_argument("--freq-axis", choices=FREQ_AXES, default="log",
                        help="frequency axis of the figure's spectrograms: log (default; gives the bass and "
                             "chords room) or linear")


@dataclass(frozen=True)
class Panel:
    """One plot of a figure.

    Attributes
    ----------
    title : str
    data : np.ndarray
        ``kind="db"``: magnitudes ``(F, T)``, drawn in dB below the loudest bin of all the
        figure's dB panels (so that they compare); ``kind="mask"``: values in [0, 1], ``(F, T)``;
        ``kind="difference"``: a rebuilt and a target magnitude ``(2, F, T)``, drawn as the
        difference of their dB values (each floored at the dB panels' floor, so that silence
        in both is no difference); ``kind="curve"``: one amplitude ratio per iteration,
        ``(iterations,)``, drawn in dB (``20 log10``).
    kind : {"db", "mask", "difference", "curve"}
    ylabel : str
        ``kind="curve"`` only: what the curve is.
    """

    title: str
    data: np.ndarray
    kind: str
    ylabel: str = ""


def write_figure(path: Path, rows, sr: int, hop_length: int, freq_axis: str = "log") -> None:
    """Write the figure of :func:`draw` as a PNG file, under a temporary name then renamed."""
    fig = draw(rows, sr, hop_length, freq_axis)
    path.parent.mkdir(parents=True, exist_ok=True)  # a folder inside an output folder (oracle's figures/)
    with outputs.replacing(path) as temporary:  # never a truncated PNG
        fig.savefig(temporary, dpi=100, format="png")


def draw(rows, sr: int, hop_length: int, freq_axis: str = "log"):
    """A matplotlib Figure of ``rows`` (lists of :class:`Panel`, one list per row).

    Spectrogram panels span seconds on x and Hz on y (``sr`` and ``hop_length`` set the axes; the
    frequency axis is ``freq_axis``, one of :data:`FREQ_AXES`); a row with fewer panels than
    the widest row stretches them. Each kind of panel gets one colour bar, labelled with its
    unit and reference. Needs matplotlib (see :func:`available`).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n_columns = max(len(row) for row in rows)
    width, height = _PANEL_SIZE
    fig = Figure(figsize=(width * n_columns + 1.6, height * len(rows) + 0.4), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(len(rows), n_columns)
    magnitudes = [panel.data for row in rows for panel in row if panel.kind in ("db", "difference")]
    reference = max((float(np.max(data)) for data in magnitudes), default=0.0)
    reference = reference if reference > 0 else 1.0
    drawn = {}  # kind -> (the first image, every axes of that kind)
    for r, row in enumerate(rows):
        span = n_columns // len(row)
        for c, panel in enumerate(row):
            ax = fig.add_subplot(grid[r, c * span:(c + 1) * span])
            image = _draw(ax, panel, sr, hop_length, reference, freq_axis, bottom=r == len(rows) - 1, left=c == 0)
            if image is not None:
                drawn.setdefault(panel.kind, (image, []))[1].append(ax)
    for kind, (image, axes) in drawn.items():
        bar = fig.colorbar(image, ax=axes, pad=0.01, fraction=0.03, aspect=30)
        bar.set_label(_STYLE[kind][2], fontsize=8)
        bar.ax.tick_params(labelsize=8)
    return fig


def _draw(ax, panel, sr, hop_length, reference, freq_axis, bottom, left):
    """Draw ``panel`` on ``ax``; returns its image (None for a curve)."""
    ax.set_title(panel.title, fontsize=9)
    ax.tick_params(labelsize=8)
    if panel.kind == "curve":
        with np.errstate(divide="ignore"):
            ax.plot(np.arange(1, panel.data.shape[-1] + 1), 20 * np.log10(panel.data))
        ax.grid(alpha=0.3)
        ax.set_xlabel("iteration", fontsize=8)
        ax.set_ylabel(panel.ylabel, fontsize=8)
        return None
    if panel.kind == "db":
        values = _db(panel.data, reference)
    elif panel.kind == "difference":
        values = _db(panel.data[0], reference) - _db(panel.data[1], reference)
    else:
        values = panel.data
    cmap, (low, high), _ = _STYLE[panel.kind]
    n_bins, n_frames = values.shape
    times = np.arange(n_frames + 1) * (hop_length / sr)
    hz = np.arange(n_bins) * (sr / (2.0 * (n_bins - 1)))  # bin k of n_fft = 2 (F - 1)
    edges = np.concatenate([[0.0], (hz[1:] + hz[:-1]) / 2, [sr / 2]])
    image = ax.pcolormesh(times, edges, values, cmap=cmap, vmin=low, vmax=high, shading="flat", rasterized=True)
    if freq_axis == "log":
        ax.set_yscale("log")
        ax.set_ylim(max(_LOWEST_HZ, edges[1]), sr / 2)
        ticks = [t for t in (50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000) if _LOWEST_HZ <= t <= sr / 2]
        ax.set_yticks(ticks, [f"{t // 1000}k" if t >= 1000 else str(t) for t in ticks])
        ax.minorticks_off()
    else:
        ax.set_ylim(0.0, sr / 2)
        ax.yaxis.set_major_formatter(lambda value, _: f"{value / 1000:g}k" if value >= 1000 else f"{value:g}")
    if left:
        ax.set_ylabel("Hz", fontsize=8)
    if bottom:
        ax.set_xlabel("seconds", fontsize=8)
    else:  # the rows above share the bottom row's time axis
        ax.tick_params(labelbottom=False)
    return image


def _db(magnitude, reference):
    """``magnitude`` in dB re ``reference``, floored at the dB panels' floor."""
    return np.maximum(amplitude_to_db(magnitude, ref=reference, top_db=None), -_DB_RANGE)
