"""Output files of the commands: checked before any compute, and written whole or not at all.

- :func:`check_file` and :func:`check_folder` probe that a file can be created where an output
  goes, so that a bad output path fails in seconds, not after the work. Only a folder the user
  named as a folder (``--out DIR``, ``OUT_DIR``) is created; a file's folder must exist, so that
  a mistyped path is an error, not a new folder tree;
- :func:`replacing` and :func:`replacing_all` hand out temporary names beside the outputs and
  rename them onto the outputs only when everything was written: an interrupted or failed write
  (Ctrl-C included) leaves the earlier files, never a truncated file that looks complete;
- :class:`RunFolder` is an output folder of a whole run (``oracle --out``, ``demo --out``): it
  refuses a folder holding an earlier run's results unless told to replace them, and marks the
  run as unfinished until it has written everything.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from contextlib import contextmanager
from pathlib import Path


class OutputError(OSError):
    """An output path that cannot be written; the message names the path and the reason."""


def check_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents) and probe that files can be created in it.

    Raises
    ------
    OutputError
        It exists and is not a folder, it cannot be created, or files cannot be created in it.
    """
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} exists and is not a folder")
    _probe(folder, f"cannot write to {folder}")


def check_file(path: Path) -> None:
    """Probe that the file ``path`` can be written in its folder, which must exist.

    Raises
    ------
    OutputError
        ``path`` is a folder, its folder does not exist, or files cannot be created in it.
    """
    if path.is_dir():
        raise OutputError(f"{path} is a folder")
    folder = path.parent
    if not folder.is_dir():
        reason = "is not a folder" if folder.exists() else "does not exist (create it first)"
        raise OutputError(f"cannot write {path}: the folder {folder} {reason}")
    _probe(folder, f"cannot write {path}")


def _probe(folder, failure):
    """Create ``folder``, then a file in it, and remove the file; OutputError ``failure: reason``."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = _temporary(folder / "probe")
        with open(probe, "xb"):
            pass
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"{failure}: {exc.strerror or exc}") from None


@contextmanager
def replacing_all(paths):
    """Temporary paths (in ``paths``' order) beside ``paths``, each keeping its suffix, renamed onto
    ``paths`` when the block finishes; when it raises, they are removed and ``paths`` untouched."""
    paths = [Path(p) for p in paths]
    temporaries = [_temporary(p) for p in paths]
    try:
        yield temporaries
        for temporary, path in zip(temporaries, paths):
            os.replace(temporary, path)
    except BaseException:  # KeyboardInterrupt too: no partial file is left behind
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)
        raise


@contextmanager
def replacing(path):
    """:func:`replacing_all` of one path: yields one temporary path."""
    with replacing_all([path]) as (temporary,):
        yield temporary


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole (through a temporary file), creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as temporary:
        temporary.write_text(text)


def _temporary(path: Path) -> Path:
    """A hidden, unused name beside ``path`` with the same suffix (writers choose formats by it)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.part{path.suffix}")


class RunFolder:
    """The output folder of one run of a command, holding the files ``names`` (files or folders).

    A run checks the folder before any compute (:meth:`check`), clears an earlier run's files
    when told to (:meth:`start`, which also writes :data:`MARKER`), and removes the marker when
    it has written everything (:meth:`finish`). A folder with the marker holds an unfinished run.
    """

    #: The file that marks a run in progress, or one that was interrupted or failed.
    MARKER = "specsep-unfinished.txt"

    def __init__(self, folder: Path, names, inputs=()):
        self.folder = Path(folder)
        self.names = tuple(names) + (self.MARKER,)
        self.inputs = tuple(Path(p).resolve() for p in inputs)  # never deleted by --overwrite

    def earlier(self) -> list:
        """The names of an earlier run's files present in the folder."""
        return [name for name in self.names if (self.folder / name).exists()]

    def check(self, overwrite: bool) -> None:
        """Create the folder and probe it (:func:`check_folder`); refuse an earlier run's files
        unless ``overwrite``.

        Raises
        ------
        OutputError
            As :func:`check_folder`, the folder holds an earlier run's files, or (with
            ``overwrite``) one of those files is or holds one of ``inputs``.
        """
        check_folder(self.folder)
        earlier = self.earlier()
        if earlier and not overwrite:
            state = "an unfinished run" if self.MARKER in earlier else "an earlier run"
            listed = ", ".join(name + "/" * (self.folder / name).is_dir() for name in earlier)
            raise OutputError(f"{self.folder} holds the results of {state} ({listed}); give "
                              "--overwrite to replace them, or another folder")
        for name in earlier:
            path = (self.folder / name).resolve()
            held = [p for p in self.inputs if p == path or path in p.parents]
            if held:
                raise OutputError(f"{self.folder / name} holds the input {held[0]}: --overwrite would delete it; "
                                  "choose another folder")

    def start(self, command: str) -> None:
        """Remove an earlier run's files and write the marker naming ``command``."""
        for name in self.earlier():
            path = self.folder / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        write_text(self.folder / self.MARKER,
                   f"{command} started at {time.strftime('%Y-%m-%d %H:%M:%S')} and has not finished: the files "
                   "beside this one are incomplete. This file is removed when the run finishes.\n")

    def finish(self) -> None:
        """Remove the marker: every file of the run is written."""
        (self.folder / self.MARKER).unlink()
