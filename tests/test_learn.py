"""``safepickle learn``: a policy file from trusted samples that admits exactly them."""

from __future__ import annotations

import gzip
import os
import pickle
import sys
from pathlib import Path

import pytest
from policy_samples import Outer, Point

import safepickle
from safepickle import ForbiddenGlobal, Policy
from safepickle.cli import main
from safepickle.learn import learn, render
from safepickle.scan import Scanner
from safepickle.testing import hostile_payload

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the backport the core uses on 3.10
    import tomli as tomllib


def _samples() -> None:
    Path("samples").mkdir()
    Path("samples/points.pkl").write_bytes(pickle.dumps([Point(1, 2), Point(3, 4)]))
    Path("samples/nested.pkl.gz").write_bytes(gzip.compress(pickle.dumps(Outer.Inner(7))))
    Path("samples/plain.pkl").write_bytes(pickle.dumps({"a": (1, 2.5, "x")}))


def test_learned_file_admits_exactly_the_samples(
    canary: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _samples()
    assert main(["learn", "samples", "--output", "safepickle.toml"]) == 0
    text = Path("safepickle.toml").read_text()
    config = tomllib.loads(text)
    assert config["allow"] == ["policy_samples:Outer.Inner", "policy_samples:Point"]
    assert "# seen in samples/points.pkl @" in text
    assert "samples/nested.pkl.gz!<gzip> @" in text
    policy = Policy.from_config("safepickle.toml")
    assert safepickle.loads(Path("samples/points.pkl").read_bytes(), policy=policy) == [
        Point(1, 2),
        Point(3, 4),
    ]
    inner = gzip.decompress(Path("samples/nested.pkl.gz").read_bytes())
    assert isinstance(safepickle.loads(inner, policy=policy), Outer.Inner)
    assert main(["scan", "samples", "--config", "safepickle.toml"]) == 0
    # exactly: a global the samples did not need stays refused
    with pytest.raises(ForbiddenGlobal):
        safepickle.loads(pickle.dumps(Outer()), policy=policy)
    capsys.readouterr()


def test_pyproject_form(canary: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _samples()
    Path("base.toml").write_text('defaults = false\nplugins = ["stdlib"]\n')
    assert main(["learn", "samples", "--pyproject", "--config", "base.toml"]) == 0
    text = capsys.readouterr().out
    Path("pyproject.toml").write_text('[project]\nname = "x"\n\n' + text)
    config = tomllib.loads(Path("pyproject.toml").read_text())
    assert config["tool"]["safepickle"]["plugins"] == ["stdlib"]
    assert config["tool"]["safepickle"]["defaults"] is False
    policy = Policy.from_config("pyproject.toml")
    assert safepickle.loads(Path("samples/points.pkl").read_bytes(), policy=policy)


def test_floor_items_are_reported_never_written(
    canary: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _samples()
    Path("samples/evil.pkl").write_bytes(hostile_payload())
    assert main(["learn", "samples", "-o", "learned.toml"]) == 1
    err = capsys.readouterr().err
    assert "held back: samples/evil.pkl: 'posix.system' not written" in err
    text = Path("learned.toml").read_text()
    assert "posix" not in text.split("allow = [", 1)[1]
    assert "1 finding(s) were held back" in text


def test_denied_and_unscannable_samples(canary: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _samples()
    Path("safepickle.toml").write_text('deny = ["policy_samples:Point"]\n')
    Path("samples/broken.pkl").write_bytes(b"\x80\x04junk")
    assert main(["learn", "samples"]) == 2
    captured = capsys.readouterr()
    assert "'policy_samples.Point' not written" in captured.err
    assert "not scanned: samples/broken.pkl" in captured.err
    config = tomllib.loads(captured.out)
    assert config["deny"] == ["policy_samples:Point"]  # the base policy's own settings stay
    assert "policy_samples:Point" not in config["allow"]


def test_learn_api_and_base_policy_entries() -> None:
    base = Policy(allow=["policy_samples:Point"])
    results = [Scanner(base).scan_bytes(pickle.dumps([Point(1, 2), Outer()]), "s.pkl")]
    learned = learn(results)
    assert list(learned.allow) == ["policy_samples:Outer"]
    text = render(learned, base)
    assert '"policy_samples:Point",  # from the base policy' in text
    assert '"policy_samples:Outer",  # seen in s.pkl @' in text
    assert tomllib.loads(text)["allow"] == ["policy_samples:Outer", "policy_samples:Point"]


def test_comments_cannot_break_the_file(tmp_path: Path) -> None:
    name = str(tmp_path / "odd\nname = 1.pkl")
    learned = learn([Scanner(Policy()).scan_bytes(pickle.dumps(Point(1, 2)), name)])
    config = tomllib.loads(render(learned, Policy()))
    assert config == {"allow": ["policy_samples:Point"]}


def test_no_samples_is_a_usage_error(canary: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.mkdir("empty")
    assert main(["learn", "empty"]) == 2
    assert "no sample files found" in capsys.readouterr().err
