"""Protecting code you do not own: ``safepickle.patch()`` routes pickle's loaders through
safepickle while it is active. See ``docs/patching.md``."""

from __future__ import annotations

from ._patch import Patch, PatchError, patch

__all__ = ["Patch", "PatchError", "patch"]
