"""The objects the benchmark pickles, one builder per payload.

This is an importable module (``bench.py`` puts ``benchmarks/`` on ``sys.path`` and imports it as
``payloads``) so that the classes defined here pickle under the stable name
``payloads.Record``, which each payload then allows explicitly.

The pure standard-library payloads never import numpy or scikit-learn: those are imported
lazily inside their own builders, so ``bench.py --only ints`` runs without them installed.
"""

from __future__ import annotations

import datetime
import decimal
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["NAMES", "Payload", "Record", "build", "missing_requirements", "requirements"]


@dataclass
class Record:
    """A small, ordinary (not frozen) dataclass, pickled by ``copyreg.__newobj__`` + BUILD."""

    id: int
    name: str
    score: float
    count: int


@dataclass(frozen=True)
class Payload:
    """One object to pickle, what ``safepickle.loads`` must be allowed to load it, and a
    one-line description for the report."""

    name: str
    description: str
    obj: Any
    #: entries for ``safepickle.loads(..., allow=...)``; empty when the default policy suffices
    allow: tuple[object, ...] = ()
    #: Python recursion limit ``pickle.dumps`` needs for this object (deep nesting)
    recursion_limit: int = 0
    #: what torch's weights-only unpickler (a peer in ``bench.py``) must be allowed beyond
    #: ``allow``: the standard-library classes that safepickle's default policy admits, and
    #: numpy's per-dtype classes (torch checks the class of every object BUILD sets state on,
    #: and a dtype's class is ``numpy.dtypes.Float64DType`` and the like, not ``numpy.dtype``)
    torch_globals: tuple[object, ...] = ()


def _ints(scale: int) -> Payload:
    n = 1_000_000 // scale
    # Four runs of range-like values, each a different opcode: BININT1 (< 256), BININT2
    # (< 65536), BININT (32-bit, negatives included) and LONG1 (past 32 bits).
    quarter = n // 4
    values = [i % 256 for i in range(quarter)]
    values += [256 + i % 65_280 for i in range(quarter)]
    values += [(-1) ** i * (65_536 + i * 7) for i in range(quarter)]
    values += [2**32 + i * 1_000_003 for i in range(n - 3 * quarter)]
    return Payload("ints", f"list of {n:,} ints (< 256, < 65536, 32-bit, > 32-bit)", values)


def _str_dict(scale: int) -> Payload:
    n = 200_000 // scale
    obj = {f"key-{i:07d}": f"value {i} {'x' * (i % 23)}" for i in range(n)}
    return Payload("str_dict", f"dict of {n:,} str -> str", obj)


def _dataclasses(scale: int) -> Payload:
    n = 100_000 // scale
    rng = random.Random(0)
    obj = [Record(i, f"record-{i}", rng.random() * 1000.0, rng.randrange(1_000)) for i in range(n)]
    return Payload(
        "dataclasses",
        f"list of {n:,} @dataclass Record(int, str, float, int)",
        obj,
        allow=(Record,),
    )


def _stdlib_values(scale: int) -> Payload:
    n = 50_000 // scale
    rng = random.Random(0)
    start = datetime.datetime(2024, 1, 1, 12, 0, 0)
    utc = datetime.timezone.utc
    obj: list[object] = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            obj.append(start + datetime.timedelta(seconds=37 * i, microseconds=i))
        elif kind == 1:
            obj.append((start + datetime.timedelta(minutes=i)).replace(tzinfo=utc))
        elif kind == 2:
            obj.append(decimal.Decimal(f"{rng.randrange(10**9)}.{rng.randrange(10**4):04d}"))
        else:
            obj.append(uuid.UUID(int=rng.getrandbits(128), version=4))
    return Payload(
        "stdlib_values",
        f"list of {n:,} datetime (naive and UTC) / Decimal / UUID",
        obj,
        torch_globals=(
            datetime.datetime,
            datetime.timedelta,
            datetime.timezone,
            decimal.Decimal,
            uuid.UUID,
        ),
    )


def _numpy_allow() -> tuple[object, ...]:
    import numpy as np

    core = "numpy._core" if hasattr(np, "_core") else "numpy.core"  # numpy 2 vs 1
    return (
        "numpy:ndarray",
        "numpy:dtype",
        f"{core}.multiarray:_reconstruct",  # protocols < 5
        f"{core}.numeric:_frombuffer",  # protocol 5 (PickleBuffer, in-band here)
        f"{core}.multiarray:scalar",  # numpy scalars (scikit-learn stores some)
    )


def _numpy_dtype_classes() -> tuple[object, ...]:
    """The classes of the dtypes the numpy and scikit-learn payloads pickle, for torch."""
    import numpy as np

    structured = np.dtype([("a", np.int64), ("b", np.float64)])  # a forest's tree nodes
    scalars = [np.dtype(name) for name in ("float64", "int64", "int32", "uint8")]
    return tuple(type(dtype) for dtype in (*scalars, structured))


def _numpy(scale: int) -> Payload:
    import numpy as np

    rng = np.random.default_rng(0)
    # 80 + 80 + 20 + 20 MB at full size: C- and Fortran-ordered, 1-D and 2-D.
    obj: dict[str, Any] = {
        "f64_1d": rng.standard_normal(10_000_000 // scale),
        "f64_2d": rng.random((2_500 // scale, 4_000)),
        "i32_1d": rng.integers(-(2**31), 2**31 - 1, 5_000_000 // scale, dtype=np.int32),
        "i32_2d_fortran": np.asfortranarray(
            rng.integers(0, 1_000, (1_000 // scale, 5_000), dtype=np.int32)
        ),
    }
    total = sum(array.nbytes for array in obj.values())
    return Payload(
        "numpy",
        f"dict of 4 arrays (float64, int32; C and Fortran order), {total / 1e6:.0f} MB",
        obj,
        allow=_numpy_allow(),
        torch_globals=_numpy_dtype_classes(),
    )


def _sklearn_forest(scale: int) -> Payload:
    from sklearn.datasets import make_classification  # type: ignore[import-untyped]
    from sklearn.ensemble import RandomForestClassifier  # type: ignore[import-untyped]

    trees = 50 // scale
    features, labels = make_classification(
        n_samples=2_000, n_features=20, n_informative=8, n_classes=3, random_state=0
    )
    forest = RandomForestClassifier(n_estimators=trees, random_state=0, n_jobs=1)
    forest.fit(features, labels)
    return Payload(
        "sklearn_forest",
        f"fitted RandomForestClassifier, {trees} trees, 2,000 x 20 samples",
        forest,
        allow=(
            *_numpy_allow(),
            "sklearn.ensemble._forest:RandomForestClassifier",
            "sklearn.tree._classes:DecisionTreeClassifier",
            "sklearn.tree._tree:Tree",
        ),
        torch_globals=_numpy_dtype_classes(),
    )


def _nested_list(scale: int) -> Payload:
    depth = 10_000 // scale
    obj: list[Any] = []
    for _ in range(depth - 1):
        obj = [obj]
    return Payload(
        "nested_list",
        f"list nested {depth:,} deep",
        obj,
        recursion_limit=3 * depth + 1_000,
    )


_BUILDERS: dict[str, tuple[Callable[[int], Payload], tuple[str, ...]]] = {
    "ints": (_ints, ()),
    "str_dict": (_str_dict, ()),
    "dataclasses": (_dataclasses, ()),
    "stdlib_values": (_stdlib_values, ()),
    "numpy": (_numpy, ("numpy",)),
    "sklearn_forest": (_sklearn_forest, ("numpy", "sklearn")),
    "nested_list": (_nested_list, ()),
}

#: every payload, in the order the benchmark runs them
NAMES: tuple[str, ...] = tuple(_BUILDERS)


def requirements(name: str) -> tuple[str, ...]:
    """Third-party modules the payload needs (none for the standard-library payloads)."""
    return _BUILDERS[name][1]


def missing_requirements(name: str) -> list[str]:
    """The payload's third-party modules that cannot be found (found ones are not imported)."""
    from importlib.util import find_spec

    return [module for module in requirements(name) if find_spec(module) is None]


def build(name: str, *, quick: bool = False) -> Payload:
    """Build payload ``name`` at full size, or at 1/10 of it with ``quick``."""
    builder, _ = _BUILDERS[name]
    return builder(10 if quick else 1)
