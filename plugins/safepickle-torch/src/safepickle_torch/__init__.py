"""safepickle plugin for PyTorch.

``Policy(plugins=["torch"])`` allows tensors' rebuild functions, dtypes, ``torch.Size`` and
``torch.device`` (exact names, see :data:`safepickle_torch.plugin.ALLOWED`), and replaces
the two floor names torch pickles (:data:`safepickle_torch.plugin.REPLACED`), so plain pickles
of tensors load;
:func:`safepickle_torch.load` reads ``torch.save`` checkpoints through the safepickle verifier.
"""

from __future__ import annotations

from .checkpoint import load
from .errors import CheckpointError
from .plugin import ALLOWED, LEFT_OUT, REPLACED

__version__ = "0.1.0"

__all__ = ["ALLOWED", "LEFT_OUT", "REPLACED", "CheckpointError", "__version__", "load"]
