"""After a load: every categorical's and MultiIndex's codes must index into its categories.

pandas trusts the codes a pickle restores: ``numpy.asarray(categorical)`` with a code past the
end of the categories reads memory outside the array (pandas 3.1, numeric categories), and a
large code crashes the interpreter. The plugin's ``safepickle_validate_object`` hook walks what
the load returned (containers, frames, series, indexes, ``attrs``) and refuses such codes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["check_codes"]

#: objects one walk visits at most; past it the rest is not checked (and said so)
_MAX_NODES = 1_000_000


def _check(codes: Any, size: int, what: str) -> None:
    codes = np.asarray(codes)
    if codes.size and (codes.min() < -1 or codes.max() >= size):
        raise ValueError(
            f"safepickle_pandas refuses a {what} whose codes point outside its {size} "
            "categories/levels: pandas would read memory past the end of an array"
        )


def check_codes(obj: Any) -> None:
    """Raise ValueError if a Categorical or MultiIndex reachable from ``obj`` has bad codes."""
    todo = [obj]
    seen: set[int] = set()
    while todo:
        item = todo.pop()
        if id(item) in seen or isinstance(item, (str, bytes, int, float, np.ndarray)):
            continue
        seen.add(id(item))
        if len(seen) > _MAX_NODES:
            raise ValueError("safepickle_pandas: too many objects to check the loaded value")
        if isinstance(item, pd.Categorical):
            _check(item.codes, len(item.categories), "Categorical")
        elif isinstance(item, pd.MultiIndex):
            for level, codes in zip(item.levels, item.codes, strict=False):
                _check(codes, len(level), "MultiIndex")
        elif isinstance(item, pd.CategoricalIndex):
            todo.append(item.array)
        elif isinstance(item, pd.DataFrame):
            todo.extend(item._mgr.arrays)  # the column arrays, whatever the column labels
            todo.extend((item.index, item.columns, item.attrs))
        elif isinstance(item, pd.Series):
            todo.extend((item.array, item.index, item.attrs))
        elif isinstance(item, dict):
            todo.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            todo.extend(item)
