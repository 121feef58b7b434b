"""scikit-learn's dangerous members stay refused with the plugin; stored callables need the
user's allow; nothing runs."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safepickle
from sklearn.preprocessing import FunctionTransformer


def _call(module: str, name: str, *args: Any) -> bytes:
    """A pickle of ``module.name(*args)``, written by hand so that any callable can be named."""
    body = pickle.dumps(args, 2)[2:-1]
    return b"\x80\x02c%s\n%s\n" % (module.encode(), name.encode()) + body + b"R."


# (module, name, args): each would write the canary, read files, fetch URLs or run code
DANGEROUS: list[tuple[str, str, tuple[Any, ...]]] = [
    ("sklearn.datasets", "dump_svmlight_file", ([[1.0]], [1.0], "CANARY")),
    ("sklearn.datasets._svmlight_format_io", "dump_svmlight_file", ([[1.0]], [1.0], "CANARY")),
    ("sklearn.datasets", "load_svmlight_file", ("CANARY",)),
    ("sklearn.datasets", "load_files", (".",)),
    ("sklearn.datasets", "fetch_openml", ("CANARY",)),
    ("sklearn.datasets", "get_data_home", ("CANARY",)),
    ("sklearn.datasets._base", "get_data_home", ("CANARY",)),
    ("sklearn.externals.joblib", "load", ("CANARY",)),
    (
        "sklearn.utils._testing",
        "assert_run_python_script_without_output",
        ("open('CANARY', 'w')",),
    ),
    ("sklearn.utils._testing", "create_memmap_backed_data", ([1],)),
    ("sklearn.utils._show_versions", "show_versions", ()),
    ("sklearn.utils.estimator_checks", "check_estimator", (None,)),
    ("sklearn.utils.parallel", "delayed", (os.system,)),
    ("sklearn.utils", "_safe_indexing", ([1], 0)),
    ("sklearn.utils._joblib", "load", ("CANARY",)),
    ("sklearn.utils.fixes", "parse_version", ("1",)),
    ("sklearn", "show_versions", ()),
    ("sklearn.pipeline", "make_pipeline", ()),
    ("sklearn.base", "clone", (None,)),
    ("sklearn.preprocessing._function_transformer", "_identity", (1,)),
    ("sklearn.metrics", "make_scorer", (os.system,)),
    ("joblib", "load", ("CANARY",)),
    ("numpy", "load", ("CANARY",)),
]


@pytest.mark.parametrize(
    ("module", "name", "args"), [pytest.param(*d, id=f"{d[0]}.{d[1]}") for d in DANGEROUS]
)
def test_dangerous_member_refused(
    module: str, name: str, args: tuple[Any, ...], canary: Path, sklearn_policy: safepickle.Policy
) -> None:
    payload = _call(module, name, *args)
    with pytest.raises(safepickle.ForbiddenGlobal):
        safepickle.loads(payload, policy=sklearn_policy)
    with pytest.raises(safepickle.ForbiddenGlobal):
        safepickle.loads(payload, policy=sklearn_policy)


def test_stored_callable_needs_the_users_allow(sklearn_policy: safepickle.Policy) -> None:
    model = FunctionTransformer(func=np.log1p).fit(np.ones((3, 2)))
    data = pickle.dumps(model)
    with pytest.raises(safepickle.ForbiddenGlobal, match=r"numpy\.log1p.*allow="):
        safepickle.loads(data, policy=sklearn_policy)
    got = safepickle.loads(data, policy=sklearn_policy, allow=["numpy.log1p"])
    assert got.func is np.log1p


class _Evil:
    """Pickles as os.system("touch CANARY")."""

    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, ("touch CANARY",)


def test_stored_os_system_is_on_the_floor(canary: Path, sklearn_policy: safepickle.Policy) -> None:
    model = FunctionTransformer(func=os.system)
    with pytest.raises(safepickle.ForbiddenGlobal, match="floor"):
        safepickle.loads(pickle.dumps(model), policy=sklearn_policy, allow=[])


def test_payload_hidden_in_fitted_state(canary: Path, sklearn_policy: safepickle.Policy) -> None:
    from sklearn.linear_model import Ridge

    model = Ridge().fit(np.ones((3, 2)), [1.0, 2.0, 3.0])
    model.coef_ = _Evil()  # type: ignore[assignment]
    with pytest.raises(safepickle.ForbiddenGlobal, match="system"):
        safepickle.loads(pickle.dumps(model), policy=sklearn_policy)


def test_narrowed_mean_refuses_a_range(sklearn_policy: safepickle.Policy) -> None:
    """numpy.mean(range(1.4e9)) would materialise 11 GB: core bounds every range by
    max_container_items, and the plugin's mean refuses ranges of any length."""
    payload = b"\x80\x02cnumpy\nmean\nc__builtin__\nrange\nJ\x00\xe4\x0bT\x85R\x85R."
    with pytest.raises(safepickle.LimitExceeded, match="range"):
        safepickle.loads(payload, policy=sklearn_policy)
    small = b"\x80\x02cnumpy\nmean\nc__builtin__\nrange\nK\n\x85R\x85R."  # range(10)
    with pytest.raises(safepickle.ExecutionError, match="range"):
        safepickle.loads(small, policy=sklearn_policy)


def test_plugin_includes_numpy_only() -> None:
    """Naming sklearn brings numpy's table, not pandas'."""
    policy = safepickle.Policy(plugins=["sklearn"])
    assert policy.decide(safepickle.GlobalRef("numpy", "ndarray")).allowed
    assert not policy.decide(safepickle.GlobalRef("pandas.core.frame", "DataFrame")).allowed


def _tampered_tree(change: Any) -> bytes:
    """A fitted tree pickled with its node array changed by ``change(nodes)``."""
    from sklearn.tree import DecisionTreeClassifier

    model = DecisionTreeClassifier(random_state=0).fit(np.eye(4), [0, 1, 0, 1])
    state = model.tree_.__getstate__()
    nodes = state["nodes"].copy()
    change(nodes)
    model.tree_.__setstate__({**state, "nodes": nodes})
    return pickle.dumps(model)


def _child_past_the_end(nodes: Any) -> None:
    nodes["left_child"][0] = 10**9


def _child_backwards(nodes: Any) -> None:
    nodes["right_child"][1] = 0  # a loop: apply() would never end


def _feature_out_of_range(nodes: Any) -> None:
    nodes["feature"][0] = 10**6


@pytest.mark.parametrize("change", [_child_past_the_end, _child_backwards, _feature_out_of_range])
def test_tampered_tree_refused(change: Any, sklearn_policy: safepickle.Policy) -> None:
    """scikit-learn's compiled predict follows these links without bounds checks."""
    payload = _tampered_tree(change)
    with pytest.raises(safepickle.PluginError, match="safepickle_sklearn refuses"):
        safepickle.loads(payload, policy=sklearn_policy)


def test_tampered_tree_in_a_forest(sklearn_policy: safepickle.Policy) -> None:
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(3, random_state=0).fit(np.eye(4), [0, 1, 0, 1])
    tree = forest.estimators_[2].tree_
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    nodes["left_child"][0] = 10**9
    tree.__setstate__({**state, "nodes": nodes})
    with pytest.raises(safepickle.PluginError, match="child links"):
        safepickle.loads(pickle.dumps(forest), policy=sklearn_policy)


def test_tampered_hist_gradient_boosting(sklearn_policy: safepickle.Policy) -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(max_iter=2, min_samples_leaf=2).fit(
        np.arange(40.0).reshape(20, 2), np.arange(20.0)
    )
    model._predictors[0][0].nodes["feature_idx"][0] = 10**6
    for name, value in list(vars(model).items()):  # its Generator meets core's name rule
        if isinstance(value, np.random.Generator):
            setattr(model, name, None)
    with pytest.raises(safepickle.PluginError, match="feature"):
        safepickle.loads(pickle.dumps(model), policy=sklearn_policy)
