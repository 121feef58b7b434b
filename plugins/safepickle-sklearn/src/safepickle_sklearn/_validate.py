"""After a load: every decision tree's node links must stay inside the tree and go forward.

scikit-learn's ``Tree.__setstate__`` checks the node array's dtype, not its contents, and its
compiled ``apply``/``predict`` follow ``left_child``/``right_child`` and read ``X[:, feature]``
without bounds checks: a child index past ``node_count`` reads outside the array, and a link
back to an earlier node loops forever. The histogram gradient boosting ``TreePredictor`` is the
same. The plugin's ``safepickle_validate_object`` hook walks what the load returned (estimators'
attributes, lists, dicts) and refuses such trees; children always have larger indices than their
parent in trees scikit-learn builds, which is what guarantees a walk ends.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_trees"]

_MAX_NODES = 1_000_000
_LEAF = -1


def _refuse(what: str) -> None:
    raise ValueError(f"safepickle_sklearn refuses a {what}")


def _check_links(left: Any, right: Any, leaf: Any, what: str) -> None:
    count = len(left)
    index = np.arange(count)
    inner = ~leaf
    for child in (left, right):
        if np.any(inner & ((child <= index) | (child >= count))):
            _refuse(f"{what} whose child links leave the tree or point backwards")


def _check_tree(tree: Any) -> None:
    count = tree.node_count
    left, right, feature = tree.children_left, tree.children_right, tree.feature
    if not (len(left) == len(right) == len(feature) == count):
        _refuse("decision tree whose node arrays disagree on the node count")
    leaf = (left == _LEAF) & (right == _LEAF)
    _check_links(left, right, leaf, "decision tree")
    if np.any(~leaf & ((feature < 0) | (feature >= tree.n_features))):
        _refuse("decision tree that splits on a feature it does not have")


def _check_predictor(predictor: Any, n_features: int | None) -> None:
    nodes = predictor.nodes
    leaf = nodes["is_leaf"].astype(bool)
    _check_links(nodes["left"].astype(np.int64), nodes["right"].astype(np.int64), leaf,
                 "gradient boosting tree")  # fmt: skip
    feature = nodes["feature_idx"].astype(np.int64)
    if n_features is not None and np.any(~leaf & ((feature < 0) | (feature >= n_features))):
        _refuse("gradient boosting tree that splits on a feature the model does not have")


def check_trees(obj: Any) -> None:
    """Raise ValueError if a tree reachable from ``obj`` could make scikit-learn read outside
    its arrays or loop."""
    from sklearn.ensemble._hist_gradient_boosting.predictor import (  # noqa: PLC0415
        TreePredictor,
    )
    from sklearn.tree._tree import Tree  # noqa: PLC0415 - only when a load is validated

    todo: list[tuple[Any, int | None]] = [(obj, None)]
    seen: set[int] = set()
    while todo:
        item, n_features = todo.pop()
        if id(item) in seen or isinstance(item, (str, bytes, int, float, np.ndarray)):
            continue
        seen.add(id(item))
        if len(seen) > _MAX_NODES:
            _refuse("model with too many objects to check")
        if isinstance(item, Tree):
            _check_tree(item)
        elif isinstance(item, TreePredictor):
            _check_predictor(item, n_features)
        elif isinstance(item, dict):
            todo.extend((value, n_features) for value in item.values())
        elif isinstance(item, (list, tuple)):
            todo.extend((value, n_features) for value in item)
        elif hasattr(item, "__dict__") and type(item).__module__.startswith("sklearn."):
            attributes = vars(item)
            own = attributes.get("n_features_in_")
            known = own if type(own) is int else n_features
            todo.extend((value, known) for value in attributes.values())
