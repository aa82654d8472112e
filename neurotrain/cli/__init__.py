"""The ``neurotrain`` command line: ``train``, ``evaluate``, ``analyze``, ``export``, ``tasks``.

A thin shell over :mod:`neurotrain.runs` (see :func:`main`).
"""

from ._main import build_parser, main

__all__ = ["main", "build_parser"]
