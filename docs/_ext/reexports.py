"""Resolve references to where an object is defined when the docs describe it where it is
exported.

The code's docstrings and annotations name objects by their defining module
(``safepickle.config.load_config``, ``safepickle.limits.Limits``), which is where a reader of the
source finds them; the API reference documents them under ``safepickle``, where users import
them from. autodoc records that link for classes (``:canonical:``) but not for functions, so a
``-n`` build would report those references as broken. This resolves such a reference to the
documented name of the very same object, and only then: anything else stays a broken reference.
A bare name (``:func:`patch```) is looked up in the module whose docstring uses it.
"""

from __future__ import annotations

import importlib
from typing import Any

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment


def _lookup(dotted: str) -> Any:
    """The object named ``dotted`` (a module path and attributes), or None."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            obj = getattr(obj, attribute, None)
            if obj is None:
                return None
        return obj
    return None


def resolve_reexport(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.Element
) -> nodes.reference | None:
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if "." not in target:
        # a bare name (:func:`patch`) in a docstring of a module that imports it
        target = f"{node.get('py:module') or ''}.{target}"
    module, _, name = target.rpartition(".")
    if not module.startswith("safepickle.") or module == "safepickle":
        return None
    obj = _lookup(target)
    if obj is None or _lookup(f"safepickle.{name}") is not obj:
        return None
    domain = env.get_domain("py")
    node["reftarget"] = f"safepickle.{name}"
    return domain.resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], node["reftarget"], node, contnode
    )


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("missing-reference", resolve_reexport)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
