"""argparse types shared by the command line and the bench harness."""

from __future__ import annotations

import argparse

import numpy as np


def _finite_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    return value if np.isfinite(value) else None


def positive_float(text):
    """argparse type: a finite number > 0."""
    value = _finite_float(text)
    if value is None or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number > 0")
    return value


def non_negative_float(text):
    """argparse type: a finite number >= 0."""
    value = _finite_float(text)
    if value is None or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number >= 0")
    return value


def int_at_least(minimum):
    """argparse type: an integer >= minimum."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} must be an integer >= {minimum}")
        return value
    return parse


def int_between(minimum, maximum):
    """argparse type: an integer in ``[minimum, maximum]``."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"{text!r} must be an integer from {minimum} to {maximum}")
        return value
    return parse
