"""``safepickle scan``: what a policy refuses in files, folders and containers, statically.

:class:`Scanner` runs the loader's own verifier and decisions over every pickle it finds
(``safepickle.containers`` opens compressed files, archives, checkpoints, ``.npy`` and joblib
files) and returns :class:`FileResult` objects; :mod:`safepickle.scan.cli` is the command.

.. versionadded:: 0.2
"""

from __future__ import annotations

from .engine import Scanner
from .model import FileResult, GlobalFinding, Problem, StreamResult

__all__ = ["FileResult", "GlobalFinding", "Problem", "Scanner", "StreamResult"]
