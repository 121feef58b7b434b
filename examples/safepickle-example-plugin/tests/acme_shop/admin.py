"""Organisation code that must never run from a pickle."""

from __future__ import annotations

from pathlib import Path


def reset_database(marker: str = "CANARY") -> None:
    """Stands for a destructive operation: it creates the canary file instead."""
    Path(marker).touch()
