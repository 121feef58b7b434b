"""Plugins: hook aggregation, entry points, blocking, validation, persistent ids, audit."""

from __future__ import annotations

import importlib.metadata
import io
import os
import pickle
from pathlib import Path
from typing import Any

import policy_samples
import pytest
from policy_samples import AllowPoints, Point, Storage

import safepickle
from safepickle import (
    Decision,
    ForbiddenGlobal,
    GlobalRef,
    PluginError,
    Policy,
    PolicyError,
    UnsafeOpcode,
    hookspecs,
)
from safepickle.context import LoadEvent


class _FakeDist:
    """Just enough of importlib.metadata.Distribution for pluggy's entry-point loader."""

    def __init__(self, entry_points: list[importlib.metadata.EntryPoint]) -> None:
        self.entry_points = entry_points
        self.metadata = {"name": "safepickle-points"}
        self.version = "1.0"


@pytest.fixture
def points_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    """Install a fake distribution with an entry point 'points' in group 'safepickle'."""
    ep = importlib.metadata.EntryPoint(
        name="points", value="policy_samples:entry_point_plugin", group="safepickle"
    )
    other = importlib.metadata.EntryPoint(
        name="greedy", value="policy_samples:entry_point_plugin", group="safepickle"
    )
    monkeypatch.setattr(importlib.metadata, "distributions", lambda: [_FakeDist([ep, other])])


def test_plugin_object_allows(canary: Any) -> None:
    data = pickle.dumps(Point(1, 2))
    assert safepickle.loads(data, policy=Policy(plugins=[AllowPoints()])) == Point(1, 2)


def test_entry_point_loaded_only_when_named(points_entry_point: None) -> None:
    data = pickle.dumps(Point(1, 2))
    with pytest.raises(ForbiddenGlobal):  # installed, but not named: policy not widened
        safepickle.loads(data, policy=Policy())
    policy = Policy(plugins=["points"])
    assert safepickle.loads(data, policy=policy) == Point(1, 2)
    assert "points" in policy.plugin_names
    assert "greedy" not in policy.plugin_names


def test_unknown_entry_point_is_a_policy_error(points_entry_point: None) -> None:
    with pytest.raises(PolicyError, match="no safepickle plugin named 'nope'"):
        Policy(plugins=["nope"]).manager  # noqa: B018 - building the manager raises


def test_disabled_plugins_are_blocked(
    points_entry_point: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFEPICKLE_DISABLE_PLUGINS", "points, safepickle.builtin.stdlib")
    policy = Policy(plugins=["points"])
    assert "points" not in policy.plugin_names
    with pytest.raises(ForbiddenGlobal):
        safepickle.loads(pickle.dumps(Point(1, 2)), policy=policy)
    with pytest.raises(ForbiddenGlobal):  # the stdlib plugin is blocked too
        safepickle.loads(pickle.dumps({1}, 2), policy=policy)


def test_builtin_plugin_by_name() -> None:
    policy = Policy(defaults=False, plugins=["stdlib"])
    assert safepickle.loads(pickle.dumps({1}, 2), policy=policy) == {1}


def test_misspelled_hook_fails_loudly() -> None:
    class Typo:
        def safepickle_decid(self, ref: GlobalRef) -> None:
            return None

    with pytest.raises(PolicyError, match="safepickle_decid"):
        Policy(plugins=[Typo()]).manager  # noqa: B018


def test_unknown_hook_argument_fails_loudly() -> None:
    class BadArgs:
        @safepickle.hookimpl
        def safepickle_decide(self, ref: GlobalRef, stream: bytes) -> None:
            return None

    with pytest.raises(PolicyError, match="stream"):
        Policy(plugins=[BadArgs()]).manager  # noqa: B018


def test_wrapper_on_decide_is_refused() -> None:
    class Wrapper:
        @safepickle.hookimpl(wrapper=True)
        def safepickle_decide(self, ref: GlobalRef) -> Any:
            yield
            return Decision.allow("overrides everything")

    with pytest.raises(PolicyError, match="wrapper"):
        Policy(plugins=[Wrapper()]).manager  # noqa: B018


def test_any_deny_wins_and_no_decision_denies() -> None:
    class DenyPoints:
        @safepickle.hookimpl
        def safepickle_decide(self, ref: GlobalRef) -> Decision | None:
            if ref.qualname == "Point":
                return Decision.deny("points are banned here", rule="no-points")
            return None

    data = pickle.dumps(Point(1, 2))
    policy = Policy(plugins=[AllowPoints(), DenyPoints()], allow=[Point])
    with pytest.raises(ForbiddenGlobal) as info:
        safepickle.loads(data, policy=policy)
    assert info.value.decision.rule == "no-points"
    assert "points are banned here" in str(info.value)

    class Abstain:
        @safepickle.hookimpl
        def safepickle_decide(self, ref: GlobalRef) -> None:
            return None

    with pytest.raises(ForbiddenGlobal) as info:
        safepickle.loads(data, policy=Policy(plugins=[Abstain()]))
    assert info.value.decision.rule == "default-deny"


def test_plugin_cannot_lift_the_floor(canary: Any) -> None:
    class AllowEverything:
        @safepickle.hookimpl
        def safepickle_decide(self, ref: GlobalRef) -> Decision:
            return Decision.allow("yolo")

    # os.system("touch CANARY") at protocol 0
    payload = b"cos\nsystem\n(S'touch CANARY'\ntR."
    with pytest.raises(ForbiddenGlobal) as info:
        safepickle.loads(payload, policy=Policy(plugins=[AllowEverything()]))
    assert info.value.decision.rule == "floor"


def test_a_plugin_may_replace_a_floor_item_but_never_allow_it(canary: Any) -> None:
    """torch.storage._load_from_bytes is on the floor; the torch plugin reads those bytes with
    its own safe loader instead. The real floor object is never imported or called."""
    calls: list[tuple[Any, ...]] = []

    def safe_system(command: str) -> str:
        calls.append((command,))
        return f"not run: {command}"

    class ReplaceSystem:
        @safepickle.hookimpl
        def safepickle_decide(self, ref: GlobalRef) -> Decision | None:
            if ref.dotted == "os.system":
                return Decision.allow("a harmless stand-in", substitute=safe_system)
            return None

    class DenySystem:
        @safepickle.hookimpl
        def safepickle_decide(self, ref: GlobalRef) -> Decision | None:
            return Decision.deny("never") if ref.dotted == "os.system" else None

    payload = b"cos\nsystem\n(S'touch CANARY'\ntR."
    policy = Policy(plugins=[ReplaceSystem()])
    assert safepickle.loads(payload, policy=policy) == "not run: touch CANARY"
    assert calls == [("touch CANARY",)]
    decision = policy.decide(GlobalRef("os", "system"))
    assert decision.rule == "floor-substitute" and "never imported" in decision.reason
    # any deny still wins, and the floor's deny comes back
    with pytest.raises(ForbiddenGlobal) as info:
        safepickle.loads(payload, policy=Policy(plugins=[ReplaceSystem(), DenySystem()]))
    assert info.value.decision.rule == "floor"
    # an allow-list entry can never carry a substitute: the floor stands
    with pytest.raises(PolicyError):
        Policy(allow=["os.system"])


def test_plugin_that_raises_or_returns_garbage_is_a_plugin_error() -> None:
    class Raises:
        @safepickle.hookimpl
        def safepickle_decide(self, ref: GlobalRef) -> None:
            raise RuntimeError("boom")

    class Garbage:
        @safepickle.hookimpl
        def safepickle_decide(self, ref: GlobalRef) -> Any:
            return True

    data = pickle.dumps(Point(1, 2))
    for plugin in (Raises(), Garbage()):
        with pytest.raises(PluginError) as info:
            safepickle.loads(data, policy=Policy(plugins=[plugin]))
        assert isinstance(info.value, pickle.UnpicklingError)


def _pickle_with_persistent_ids() -> bytes:
    class Pickler(pickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            if isinstance(obj, bytes) and obj.startswith(b"blob"):
                return ("blob", int(obj[4:]))
            return None

    out = io.BytesIO()
    Pickler(out, protocol=2).dump({"a": b"blob0", "b": [b"blob1", 3]})
    return out.getvalue()


def test_persistent_ids_refused_without_a_plugin() -> None:
    with pytest.raises(UnsafeOpcode, match="persistent id"):
        safepickle.loads(_pickle_with_persistent_ids())


def test_persistent_ids_resolved_by_a_plugin() -> None:
    storage = Storage({0: b"zero", 1: b"one"})
    result = safepickle.loads(_pickle_with_persistent_ids(), policy=Policy(plugins=[storage]))
    assert result == {"a": b"zero", "b": [b"one", 3]}
    assert storage.seen == [("blob", 0), ("blob", 1)]


def test_persistent_id_nobody_resolves_is_refused() -> None:
    storage = Storage({})
    with pytest.raises(PluginError):  # KeyError inside the plugin
        safepickle.loads(_pickle_with_persistent_ids(), policy=Policy(plugins=[storage]))

    class Declines:
        @safepickle.hookimpl
        def safepickle_persistent_load(self, pid: Any) -> None:
            return None

    with pytest.raises(UnsafeOpcode, match="no plugin resolved"):
        safepickle.loads(_pickle_with_persistent_ids(), policy=Policy(plugins=[Declines()]))


def test_unpickler_subclass_persistent_load() -> None:
    class MyUnpickler(safepickle.Unpickler):
        def persistent_load(self, pid: Any) -> Any:
            return f"resolved-{pid[1]}"

    result = MyUnpickler(io.BytesIO(_pickle_with_persistent_ids())).load()
    assert result == {"a": "resolved-0", "b": ["resolved-1", 3]}


def test_validate_hook_can_reject() -> None:
    class NoNegativePoints:
        @safepickle.hookimpl
        def safepickle_validate_object(self, obj: Any) -> None:
            if isinstance(obj, Point) and obj.x < 0:
                raise ValueError("negative x")

    policy = Policy(allow=[Point], plugins=[NoNegativePoints()])
    assert safepickle.loads(pickle.dumps(Point(1, 2)), policy=policy) == Point(1, 2)
    with pytest.raises(PluginError, match="negative x") as info:
        safepickle.loads(pickle.dumps(Point(-1, 2)), policy=policy)
    assert isinstance(info.value.__cause__, ValueError)


class _PointsOnly:
    """A schema plugin that knows one schema, "points": a list of Point with x >= 0."""

    @safepickle.hookimpl
    def safepickle_schema_validator(self, schema: Any) -> Any:
        if schema != "points":
            return None

        def validate(value: Any) -> Any:
            if not isinstance(value, list):
                raise safepickle.ValidationFailed("not a list", details=[{"type": "list"}])
            for index, raw in enumerate(value):
                item = raw
                if isinstance(raw, dict):  # from JSON: build the Point
                    item = value[index] = Point(raw["x"], raw["y"])
                if not isinstance(item, Point) or item.x < 0:
                    raise safepickle.ValidationFailed(
                        f"bad point {item!r}", details=[{"loc": [index]}], path=f"result[{index}]"
                    )
            return value

        return validate


def test_schema_validates_and_converts_pickle_and_json() -> None:
    policy = Policy(allow=[Point], plugins=[_PointsOnly()])
    assert safepickle.loads(pickle.dumps([Point(1, 2)]), policy=policy, schema="points") == [
        Point(1, 2)
    ]
    assert safepickle.loads(b'[{"x": 3, "y": 4}]', policy=policy, schema="points") == [Point(3, 4)]
    with pytest.raises(safepickle.ValidationFailed, match="bad point") as info:
        safepickle.loads(pickle.dumps([Point(-1, 2)]), policy=policy, schema="points")
    assert info.value.path == "result[0]" and info.value.details == ({"loc": [0]},)
    stream = io.BytesIO()
    safepickle.dump([Point(1, 1)], stream)
    safepickle.dump([{"x": 2, "y": 2}], stream)
    stream.seek(0)
    assert list(safepickle.load_all(stream, policy=policy, schema="points")) == [
        [Point(1, 1)],
        [Point(2, 2)],
    ]
    stream.seek(0)
    assert safepickle.load(stream, policy=policy, schema="points") == [Point(1, 1)]


def test_naming_a_builtin_plugin_the_defaults_bring_is_harmless() -> None:
    policy = Policy(plugins=["stdlib"])
    assert safepickle.loads(pickle.dumps({1, 2}), policy=policy) == {1, 2}


def test_schema_without_a_plugin_names_the_fix() -> None:
    with pytest.raises(PolicyError, match=r"safepickle-pydantic.*plugins=\['pydantic'\]"):
        safepickle.loads(b"[1]", schema="points")
    # a plugin that abstains for this schema is no better
    with pytest.raises(PolicyError, match="no plugin of the policy validates schemas"):
        safepickle.loads(b"[1]", policy=Policy(plugins=[_PointsOnly()]), schema="other")


def test_schema_validator_errors_become_plugin_errors() -> None:
    class Broken:
        @safepickle.hookimpl
        def safepickle_schema_validator(self, schema: Any) -> Any:
            return "not callable"

    class Raises:
        @safepickle.hookimpl
        def safepickle_schema_validator(self, schema: Any) -> Any:
            def validate(value: Any) -> Any:
                raise KeyError(value)

            return validate

    with pytest.raises(PluginError, match="must return a function"):
        safepickle.loads(b"[1]", policy=Policy(plugins=[Broken()]), schema=int)
    with pytest.raises(PluginError, match="KeyError") as info:
        safepickle.loads(b"[1]", policy=Policy(plugins=[Raises()]), schema=int)
    assert isinstance(info.value.__cause__, KeyError)


def test_audit_hook_sees_loaded_and_refused() -> None:
    events: list[LoadEvent] = []

    class Sink:
        @safepickle.hookimpl
        def safepickle_audit(self, event: LoadEvent) -> None:
            events.append(event)

    policy = Policy(allow=[Point], plugins=[Sink()])
    safepickle.loads(pickle.dumps(Point(1, 2)), policy=policy)
    with pytest.raises(ForbiddenGlobal):
        safepickle.loads(b"cos\nsystem\n(S'true'\ntR.", policy=policy)
    assert [event.outcome for event in events] == ["loaded", "refused"]
    loaded, refused = events
    assert [use.ref.dotted for use, _ in loaded.decisions] == ["policy_samples.Point"]
    assert all(decision.allowed for _, decision in loaded.decisions)
    assert [(use.ref.dotted, d.rule) for use, d in refused.decisions] == [("os.system", "floor")]
    assert isinstance(refused.error, ForbiddenGlobal)
    assert refused.protocol == 0 and loaded.protocol == pickle.DEFAULT_PROTOCOL


def test_every_hook_is_documented() -> None:
    names = [name for name in dir(hookspecs) if name.startswith("safepickle_")]
    assert sorted(names) == sorted(hookspecs.__all__)
    for name in names:
        doc = getattr(hookspecs, name).__doc__ or ""
        assert len(doc) > 80 and "versionadded" in doc, name


def test_every_hook_has_a_test() -> None:
    source = "".join(
        path.read_text(encoding="utf-8") for path in Path(__file__).parent.glob("test_*.py")
    )
    for name in hookspecs.__all__:
        assert f"def {name}(" in source, f"no test plugin implements {name}"
    assert policy_samples.__name__ == "policy_samples"


def test_inspect_stream_sees_the_bytes_before_anything_runs(canary: Any) -> None:
    """A plugin refuses a stream by its bytes, after the verifier and the decisions and
    before any global is resolved or any opcode executed; the scanner asks it too."""
    from safepickle.scan.engine import Scanner

    seen: list[tuple[bytes, int]] = []

    class NoLongStrings:
        @safepickle.hookimpl
        def safepickle_inspect_stream(self, data: memoryview, verified: Any) -> None:
            seen.append((bytes(data), verified.protocol))
            if b"x" * 100 in bytes(data):
                raise UnsafeOpcode("a string of 100 x", opcode="BINUNICODE")

    policy = Policy(allow=[Point], plugins=[NoLongStrings()])
    ok = pickle.dumps(Point(1, "short"), protocol=4)
    assert safepickle.loads(ok, policy=policy) == Point(1, "short")
    assert seen == [(ok, 4)]
    bad = pickle.dumps([Point(1, "x" * 100), os.system], protocol=4)
    with pytest.raises(ForbiddenGlobal):  # the decisions come first: os.system is refused
        safepickle.loads(bad, policy=policy)
    bad = pickle.dumps(Point(1, "x" * 100), protocol=4)
    with pytest.raises(UnsafeOpcode, match="100 x"):
        safepickle.loads(bad, policy=policy)

    class Raises:
        @safepickle.hookimpl
        def safepickle_inspect_stream(self) -> None:
            raise KeyError("boom")

    with pytest.raises(PluginError, match="boom"):
        safepickle.loads(ok, policy=Policy(allow=[Point], plugins=[Raises()]))
    Path("bad.pkl").write_bytes(bad)
    assert Scanner(policy).scan_file("bad.pkl").status == "refused"
    # the view is released when the hook returns: a file's buffer can grow for the next pickle
    kept: list[memoryview] = []

    class Keeps:
        @safepickle.hookimpl
        def safepickle_inspect_stream(self, data: memoryview) -> None:
            kept.append(data)

    stream = io.BytesIO(ok + ok)
    keeping = Policy(allow=[Point], plugins=[Keeps()])
    assert list(safepickle.load_all(stream, policy=keeping)) == [Point(1, "short")] * 2
    with pytest.raises(ValueError, match="released"):
        kept[0].tobytes()
    Path("ok.pkl").write_bytes(ok)
    assert Scanner(policy).scan_file("ok.pkl").status == "clean"
