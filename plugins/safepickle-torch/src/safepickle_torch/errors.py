"""The plugin's one error type."""

from __future__ import annotations

from safepickle import MalformedPickle

__all__ = ["CheckpointError"]


class CheckpointError(MalformedPickle):
    """The input is not a torch checkpoint this loader accepts, or the stream asked for a
    tensor its checkpoint does not hold (a storage missing, too small, or of another size).

    A :class:`safepickle.MalformedPickle`, so a :class:`pickle.UnpicklingError` too.

    .. versionadded:: 0.1
    """
