"""``safepickle run script.py ARGS`` / ``safepickle run -m module ARGS``: a program run with
``safepickle.patch()`` on, seeing ``sys.argv`` as python would give it."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from safepickle import ForbiddenGlobal, cli
from safepickle.testing import CANARY, hostile_payload

# The program: loads the pickle file named in argv[1] with pandas (which calls pickle.load),
# and reports what it saw in report.json.
PROGRAM = """\
import json, pickle, sys
import pandas

import models

value = pandas.read_pickle(sys.argv[1]) if len(sys.argv) > 1 else None
with open("report.json", "w") as f:
    json.dump({"argv": sys.argv, "name": __name__, "value": repr(value),
               "patched": pickle.loads.__module__}, f)
"""
MODELS = """\
class Model:
    def __init__(self, size):
        self.size = size

    def __repr__(self):
        return f"Model({self.size})"
"""


def main(argv: list[str]) -> int:
    """The real command line, with only ``run`` registered: other subcommands are other
    tests' business (and may be work in progress)."""
    registered = cli.SUBCOMMANDS
    cli.SUBCOMMANDS = {"run": registered["run"]}
    try:
        return cli.main(argv)
    finally:
        cli.SUBCOMMANDS = registered


@pytest.fixture
def program(canary: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``app/program.py`` and ``app/models.py`` in the test's temp dir (the cwd); a benign
    pickle ``model.pkl`` of ``models.Model`` and a hostile ``hostile.pkl``."""
    monkeypatch.delenv("SAFEPICKLE_CONFIG", raising=False)
    app = canary.parent / "app"
    app.mkdir()
    (app / "program.py").write_text(PROGRAM)
    (app / "models.py").write_text(MODELS)
    sys.path.insert(0, str(app))
    try:
        import models

        (canary.parent / "model.pkl").write_bytes(pickle.dumps(models.Model(3), protocol=4))
    finally:
        sys.path.remove(str(app))
        sys.modules.pop("models", None)
    (canary.parent / "hostile.pkl").write_bytes(hostile_payload())
    yield app / "program.py"
    sys.modules.pop("models", None)


def _report() -> dict[str, object]:
    report: dict[str, object] = json.loads(Path("report.json").read_text())
    return report


def test_runs_the_script_with_its_argv_under_the_patch(program: Path) -> None:
    argv_before, loads_before = sys.argv[:], pickle.loads
    assert main(["run", "--allow", "models:Model", str(program), "model.pkl", "--flag"]) == 0
    report = _report()
    assert report["argv"] == [str(program), "model.pkl", "--flag"]
    assert report["name"] == "__main__"
    assert report["value"] == "Model(3)"
    assert report["patched"] == "safepickle.patching._replace"
    assert sys.argv == argv_before and pickle.loads is loads_before  # all restored


def test_a_refused_load_raises_in_the_program(program: Path) -> None:
    with pytest.raises(ForbiddenGlobal, match=r"models\.Model") as caught:
        main(["run", str(program), "model.pkl"])
    assert "--allow models:Model to safepickle run" in str(caught.value)
    with pytest.raises(ForbiddenGlobal, match=r"posix\.system"):
        main(["run", "--allow", "models:Model", str(program), "hostile.pkl"])
    assert not Path("report.json").exists()


def test_run_module_like_python_dash_m(program: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(program.parent)  # python -m finds the module from the cwd
    assert main(["run", "--allow", "models.Model", "-m", "program", "../model.pkl", "-x"]) == 0
    report = _report()
    assert report["argv"] == [str(program), "../model.pkl", "-x"]
    assert report["value"] == "Model(3)"


def test_config_file_and_plugins(program: Path, tmp_path: Path) -> None:
    config = tmp_path / "safepickle.toml"
    config.write_text('allow = ["models:Model"]\n')
    assert main(["run", "--config", str(config), str(program), "model.pkl"]) == 0
    assert _report()["value"] == "Model(3)"
    config.write_text('deny = ["models:Model"]\n')
    with pytest.raises(ForbiddenGlobal, match=r"models\.Model"):  # --allow cannot beat a deny
        main(
            ["run", "--config", str(config), "--allow", "models:Model", str(program), "model.pkl"]
        )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run"], "give a script to run"),
        (["run", "missing.py"], "no such file"),
        (["run", "-m"], "-m needs a module name"),
        (["run", "-m", "no_such_module_here"], "no module of that name"),
        (["run", "--plugin", "no-such-plugin", "x.py"], "no such file"),
        (["run", "--allow", "not a name", "{program}"], "not a name"),
        (["run", "--plugin", "no-such-plugin", "{program}"], "no safepickle plugin named"),
        (["run", "--config", "missing.toml", "{program}"], "missing.toml"),
    ],
)
def test_usage_errors_exit_2(
    program: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([arg.format(program=program) for arg in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("safepickle: error: ") and message in err


THREADED = """\
import pickle, sys, threading, time

def late_load():
    time.sleep(0.2)  # after the main thread is done
    try:
        with open(sys.argv[1], "rb") as f:
            pickle.load(f)
        outcome = "loaded"
    except pickle.UnpicklingError as exc:
        outcome = type(exc).__name__
    with open("thread.txt", "w") as f:
        f.write(outcome)

threading.Thread(target=late_load).start()
"""


def test_threads_the_program_leaves_running_stay_patched(program: Path) -> None:
    script = program.parent / "threaded.py"
    script.write_text(THREADED)
    assert main(["run", str(script), "hostile.pkl"]) == 0
    assert Path("thread.txt").read_text() == "ForbiddenGlobal"


def test_exit_status_of_the_program_passes_through(tmp_path: Path) -> None:
    script = tmp_path / "exits.py"
    script.write_text("raise SystemExit(3)\n")
    with pytest.raises(SystemExit) as caught:
        main(["run", str(script)])
    assert caught.value.code == 3


def test_command_line_end_to_end(program: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "safepickle", "run", "--allow", "models:Model", str(program)]
    ok = subprocess.run(
        [*command, "model.pkl"], capture_output=True, text=True, env=env, check=False
    )
    assert ok.returncode == 0, ok.stderr
    assert _report()["value"] == "Model(3)"
    refused = subprocess.run(
        [*command, "hostile.pkl"], capture_output=True, text=True, env=env, check=False
    )
    assert refused.returncode == 1
    assert "safepickle.errors.ForbiddenGlobal: global 'posix.system'" in refused.stderr
    # the same program without safepickle runs the payload: it is live
    live = subprocess.run(
        [sys.executable, str(program), "../hostile.pkl"],
        capture_output=True,
        text=True,
        env=env,
        cwd=program.parent,
        check=False,
    )
    assert (program.parent / CANARY).exists(), live.stderr
    (program.parent / CANARY).unlink()


LIBRARIES = """\
import pathlib
import sys
import joblib
from pandas.compat import pickle_compat

data = pathlib.Path(sys.argv[1]).read_bytes()
for name, load in [("joblib", joblib.load), ("pandas", lambda p: pickle_compat.loads(data))]:
    try:
        load(sys.argv[1])
        print(name, "loaded")
    except Exception as exc:
        print(name, type(exc).__name__)
"""


def test_libraries_imported_under_the_patch_are_gated(program: Path) -> None:
    # joblib's and pandas' unpickler classes are created while patched, from the replacement
    script = program.parent / "libraries.py"
    script.write_text(LIBRARIES)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "safepickle", "run", str(script), "hostile.pkl"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["joblib ForbiddenGlobal", "pandas ForbiddenGlobal"]


def test_listed_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "run" in capsys.readouterr().out
