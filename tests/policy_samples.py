"""Module-level classes and plugins the policy and plugin tests pickle and register."""

from __future__ import annotations

from dataclasses import dataclass
from subprocess import call  # noqa: F401 - a re-export a module wildcard must not admit
from typing import Any

import safepickle
from safepickle import Decision, GlobalRef


@dataclass
class Point:
    x: int
    y: int


class Outer:
    class Inner:
        def __init__(self, value: int) -> None:
            self.value = value

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Outer.Inner) and other.value == self.value


class _Private:
    pass


def make_point(x: int, y: int) -> Point:
    return Point(x, y)


class AllowPoints:
    """A plugin that allows Point and nothing else."""

    @safepickle.hookimpl
    def safepickle_decide(self, ref: GlobalRef) -> Decision | None:
        if ref.dotted == "policy_samples.Point":
            return Decision.allow("points are plain data", rule="points")
        return None


class EntryPointPlugin:
    """Registered through a (fake) entry point named 'points'."""

    safepickle_decide = AllowPoints.safepickle_decide


entry_point_plugin = EntryPointPlugin()


class Storage:
    """A persistent-id plugin: ids ('blob', n) resolve to bytes."""

    def __init__(self, blobs: dict[int, bytes]) -> None:
        self.blobs = blobs
        self.seen: list[Any] = []

    @safepickle.hookimpl
    def safepickle_persistent_load(self, pid: Any) -> Any:
        self.seen.append(pid)
        if isinstance(pid, tuple) and len(pid) == 2 and pid[0] == "blob":
            return self.blobs[pid[1]]
        return None


class Deep:
    class Mid:
        class Leaf:
            def __eq__(self, other: object) -> bool:
                return isinstance(other, Deep.Mid.Leaf)
