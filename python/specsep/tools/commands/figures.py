"""Figures for the commands: spectrograms in dB, masks and convergence curves, as PNG files.

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

MISSING = "matplotlib is not installed: no figure (pip install matplotlib)"


def available() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class Panel:
    """One plot of a figure.

    Attributes
    ----------
    title : str
    data : np.ndarray
        ``kind="db"``: magnitudes ``(F, T)``, drawn in dB below the loudest bin of all the
        figure's dB panels (so that they compare); ``kind="mask"``: values in [0, 1], ``(F, T)``;
        ``kind="curve"``: one value per iteration, ``(iterations,)``, on a log scale.
    kind : {"db", "mask", "curve"}
    """

    title: str
    data: np.ndarray
    kind: str


def write_figure(path: Path, rows, sr: int, hop_length: int) -> None:
    """Write ``rows`` (lists of :class:`Panel`, one list per row) as a PNG file.

    Spectrogram panels span seconds on x and kHz on y (``sr`` and ``hop_length`` set the axes); a
    row with fewer panels than the widest row stretches them. Needs matplotlib (see
    :func:`available`). Written under a temporary name and renamed.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n_columns = max(len(row) for row in rows)
    fig = Figure(figsize=(4.5 * n_columns + 1.5, 1.7 * len(rows) + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(len(rows), n_columns)
    db_panels = [panel.data for row in rows for panel in row if panel.kind == "db"]
    reference = max((float(np.max(data)) for data in db_panels), default=1.0)
    for r, row in enumerate(rows):
        width = n_columns // len(row)
        for c, panel in enumerate(row):
            ax = fig.add_subplot(grid[r, c * width:(c + 1) * width])
            _draw(fig, ax, panel, sr, hop_length, reference, bottom=r == len(rows) - 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with outputs.replacing(path) as temporary:  # never a truncated PNG
        fig.savefig(temporary, dpi=100, format="png")


def _draw(fig, ax, panel, sr, hop_length, reference, bottom):
    ax.set_title(panel.title)
    if panel.kind == "curve":
        ax.semilogy(np.arange(1, panel.data.shape[-1] + 1), panel.data)
        ax.set_xlabel("iteration")
        return
    n_frames = panel.data.shape[-1]
    extent = (0.0, n_frames * hop_length / sr, 0.0, sr / 2000.0)
    if panel.kind == "db":
        db = amplitude_to_db(panel.data, ref=reference if reference > 0 else 1.0, top_db=None)
        image = ax.imshow(db, origin="lower", aspect="auto", extent=extent, cmap="magma", vmin=-_DB_RANGE, vmax=0.0)
    else:
        image = ax.imshow(panel.data, origin="lower", aspect="auto", extent=extent, cmap="viridis",
                          vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, pad=0.01)
    ax.set_ylabel("kHz")
    if bottom:
        ax.set_xlabel("seconds")
    else:  # the rows above share the bottom row's time axis
        ax.tick_params(labelbottom=False)
