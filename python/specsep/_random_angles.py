"""The initial angles of Griffin-Lim and MISI, as the API hands them to a backend."""

from __future__ import annotations

import numpy as np


class RandomAngles:
    """``exp(2j * pi * turns)`` for uniform draws ``turns`` in [0, 1): ``init="random"``.

    The draws are handed over instead of the angles, so that the ``cpu`` backend makes the angles
    in C++ as it loads them (cpp/cpu/load_state.hpp, within an ulp of NumPy's). NumPy's
    complex exp runs on one thread at ~30 ns per bin: a third of the time of W4's 32 iterations.
    """

    def __init__(self, turns):
        self.turns = turns

    @property
    def shape(self):
        return self.turns.shape

    def angles(self):
        return np.exp(2j * np.pi * self.turns)


def complex_angles(angles):
    """Initial angles as a complex array (RandomAngles made into theirs)."""
    return angles.angles() if isinstance(angles, RandomAngles) else angles
