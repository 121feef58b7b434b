"""What re-validating pydantic models costs: ``safepickle.loads`` of 10,000 small models.

One stream (a list of ``--models`` small models: an int, a string, a constrained float, a
list of strings, an enum; protocol 5) is loaded, interleaved so noise on a shared machine hits
every variant alike:

* ``pickle``: ``pickle.loads``, the speed floor (no checks at all);
* ``safepickle``: ``safepickle.loads`` with the pydantic plugin and ``revalidate=False``: the
  verifier and the policy, no re-validation (a plain safepickle load of the same stream);
* ``revalidate``: the same with re-validation (the plugin's default);
* ``revalidate+schema``: and ``schema=list[Item]`` on top;
* ``pydantic alone``: for scale, pydantic validating the same states from dicts
  (``Item.model_validate`` of each, no pickle at all): the work re-validation cannot avoid.

It prints the median of ``--repeat`` runs of each, per-model costs and the ratios.

    python benchmarks/pydantic_revalidation.py             # ~10 s
    python benchmarks/pydantic_revalidation.py --repeat 31 --models 100000
"""

from __future__ import annotations

import argparse
import enum
import gc
import pickle
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pydantic  # noqa: E402
import safepickle_pydantic  # noqa: E402
from pydantic import BaseModel, Field  # noqa: E402

import safepickle  # noqa: E402


class Kind(enum.Enum):
    BOOK = "book"
    GAME = "game"


class Item(BaseModel):
    id: int
    name: str = Field(max_length=50)
    price: float = Field(ge=0)
    tags: list[str] = []
    kind: Kind = Kind.BOOK


def _timed(fn: Callable[[], object]) -> float:
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    del result
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10_000, help="models in the stream")
    parser.add_argument("--repeat", type=int, default=15, help="runs of each variant")
    args = parser.parse_args(argv)

    items = [
        Item(id=i, name=f"item {i}", price=i / 10, tags=["a", f"t{i % 7}"], kind=list(Kind)[i % 2])
        for i in range(args.models)
    ]
    data = pickle.dumps(items, protocol=5)
    states = [dict(item.__dict__) for item in items]
    models = [Item, Kind]
    plain_policy = safepickle.Policy(
        plugins=[safepickle_pydantic.plugin(models=models, revalidate=False)]
    )
    policy = safepickle.Policy(plugins=[safepickle_pydantic.plugin(models=models)])
    variants: dict[str, Callable[[], object]] = {
        "pickle": lambda: pickle.loads(data),
        "safepickle": lambda: safepickle.loads(data, policy=plain_policy),
        "revalidate": lambda: safepickle.loads(data, policy=policy),
        "revalidate+schema": lambda: safepickle.loads(data, policy=policy, schema=list[Item]),
        "pydantic alone": lambda: [Item.model_validate(state) for state in states],
    }
    for run in variants.values():  # warm: policies, decisions, validators, the schema
        assert run() == items
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeat):
        for name, run in variants.items():
            times[name].append(_timed(run))
    medians = {name: statistics.median(samples) for name, samples in times.items()}

    print(
        f"{args.models:,} models, {len(data):,} bytes (protocol 5), median of {args.repeat} "
        f"runs; Python {sys.version.split()[0]}, pydantic {pydantic.VERSION}"
    )
    base = medians["safepickle"]
    for name, median in medians.items():
        per_model = median / args.models * 1e6
        print(
            f"  {name:<18} {median * 1e3:8.2f} ms  {per_model:6.2f} us/model  "
            f"x{median / base:5.2f} of safepickle"
        )
    added = medians["revalidate"] - base
    print(
        f"re-validation adds {added * 1e3:.2f} ms ({added / args.models * 1e6:.2f} us per model): "
        f"x{medians['revalidate'] / base:.2f} a plain safepickle load"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
