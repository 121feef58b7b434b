"""pandas' dangerous members stay refused with the plugin; nothing runs."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import safepickle


def _call(module: str, name: str, *args: Any) -> bytes:
    """A pickle of ``module.name(*args)``, written by hand so that any callable can be named."""
    body = pickle.dumps(args, 2)[2:-1]
    return b"\x80\x02c%s\n%s\n" % (module.encode(), name.encode()) + body + b"R."


# (module, name, args): each would read or write files, fetch URLs, or run code
DANGEROUS: list[tuple[str, str, tuple[Any, ...]]] = [
    ("pandas", "read_pickle", ("CANARY",)),
    ("pandas.io.pickle", "read_pickle", ("CANARY",)),
    ("pandas", "read_csv", ("CANARY",)),
    ("pandas.io.parsers.readers", "read_csv", ("CANARY",)),
    ("pandas", "read_json", ("CANARY",)),
    ("pandas", "read_sql", ("select 1", "sqlite:///CANARY")),
    ("pandas", "read_html", ("CANARY",)),
    ("pandas", "read_excel", ("CANARY",)),
    ("pandas", "read_parquet", ("CANARY",)),
    ("pandas", "read_hdf", ("CANARY",)),
    ("pandas", "read_fwf", ("CANARY",)),
    ("pandas", "read_table", ("CANARY",)),
    ("pandas", "read_clipboard", ()),
    ("pandas", "eval", ("__import__('os').system('touch CANARY')",)),
    ("pandas.core.computation.eval", "eval", ("1",)),
    ("pandas.core.computation.expr", "Expr", ("1",)),
    ("pandas", "to_pickle", ([1], "CANARY")),
    ("pandas.io.pickle", "to_pickle", ([1], "CANARY")),
    ("pandas.io.common", "get_handle", ("CANARY", "w")),
    ("pandas.io.formats.style", "Styler", ([1],)),
    ("pandas.util._tester", "test", ()),
    ("pandas", "show_versions", ()),
    ("pandas.core.frame", "DataFrame.to_csv", ("CANARY",)),
    ("pandas", "DataFrame.to_pickle", ("CANARY",)),
    ("pandas", "DataFrame.query", ("x",)),
    ("pandas", "DataFrame.eval", ("x",)),
    ("pandas", "DataFrame.pipe", (os.system,)),
    ("pandas", "Series.apply", (os.system,)),
    ("pandas", "Series.map", (os.system,)),
    ("pandas.api.extensions", "register_extension_dtype", (None,)),
    ("pandas.core.dtypes.base", "Registry.register", (None,)),
    ("pandas.plotting", "plot_params", ()),
    ("pandas._testing", "makeDataFrame", ()),
]


@pytest.mark.parametrize(
    ("module", "name", "args"), [pytest.param(*d, id=f"{d[0]}.{d[1]}") for d in DANGEROUS]
)
def test_dangerous_member_refused(
    module: str, name: str, args: tuple[Any, ...], canary: Path, pandas_policy: safepickle.Policy
) -> None:
    payload = _call(module, name, *args)
    with pytest.raises(safepickle.ForbiddenGlobal):
        safepickle.loads(payload, policy=pandas_policy)
    with pytest.raises(safepickle.ForbiddenGlobal):
        safepickle.loads(payload, policy=pandas_policy)


class _Evil:
    """Pickles as os.system("touch CANARY")."""

    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, ("touch CANARY",)


def test_payload_in_an_object_column(canary: Path, pandas_policy: safepickle.Policy) -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", _Evil()]})
    with pytest.raises(safepickle.ForbiddenGlobal, match="system"):
        safepickle.loads(pickle.dumps(frame), policy=pandas_policy)


def test_payload_in_attrs(canary: Path, pandas_policy: safepickle.Policy) -> None:
    frame = pd.DataFrame({"a": [1.0]})
    frame.attrs["x"] = _Evil()
    with pytest.raises(safepickle.ForbiddenGlobal, match="system"):
        safepickle.loads(pickle.dumps(frame), policy=pandas_policy)


def test_error_says_how_to_allow(pandas_policy: safepickle.Policy) -> None:
    with pytest.raises(safepickle.ForbiddenGlobal, match=r"pandas\.read_csv.*floor"):
        safepickle.loads(_call("pandas", "read_csv", "x"), policy=pandas_policy)
    with pytest.raises(safepickle.ForbiddenGlobal, match=r"allow=\['pandas:merge'\]"):
        safepickle.loads(_call("pandas", "merge", 1, 2), policy=pandas_policy)


def _bad_codes(obj: Any, good: bytes, bad: bytes) -> bytes:
    """``obj`` pickled at protocol 4 (bytes are raw there) with its last ``good`` codes
    replaced by ``bad``."""
    data = pickle.dumps(obj, 4)
    at = data.rfind(b"C" + bytes([len(good)]) + good)
    assert at > 0 and len(bad) == len(good)
    return data[: at + 2] + bad + data[at + 2 + len(good) :]


def test_categorical_codes_out_of_range(pandas_policy: safepickle.Policy) -> None:
    """Codes past the categories would make numpy.asarray read outside the array."""
    series = pd.Series(pd.Categorical([1.5, 2.5, 1.5]))
    payload = _bad_codes(series, bytes([0, 1, 0]), bytes([0, 120, 0]))
    with pytest.raises(safepickle.PluginError, match="codes point outside"):
        safepickle.loads(payload, policy=pandas_policy)
    good = safepickle.loads(pickle.dumps(series, 4), policy=pandas_policy)
    pd.testing.assert_series_equal(good, series)


def test_multiindex_codes_out_of_range(pandas_policy: safepickle.Policy) -> None:
    index = pd.MultiIndex.from_arrays([[1, 2, 1], [3, 4, 3]])
    frame = pd.DataFrame({0: [1, 2, 3]}, index=index)
    payload = _bad_codes(frame, bytes([0, 1, 0]), bytes([0, 99, 0]))
    with pytest.raises(safepickle.PluginError, match="MultiIndex"):
        safepickle.loads(payload, policy=pandas_policy)
