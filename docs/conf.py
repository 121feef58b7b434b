"""Sphinx configuration: the docs are Markdown (MyST), built with ``-W --keep-going -n``.

``tox -e docs`` builds them and runs every ``>>>`` session in the pages as a doctest. The
reference pages are generated from the code: the API and the hooks from their docstrings
(autodoc), the command line from ``safepickle.cli.build_parser()`` (``_ext/cli_help.py``),
so neither can drift from what ships.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# The checkout's safepickle is documented even when an older one is installed; _ext holds
# this site's small extensions.
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))

import safepickle  # noqa: E402

project = "safepickle"
author = "safepickle developers"
copyright = "2026, safepickle developers"
release = safepickle.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "cli_help",  # the CLI reference, from safepickle.cli.build_parser() (see the module)
    "pending_pages",  # pages other contributors have not written yet (see the module)
    "reexports",  # safepickle.config.load_config -> the documented safepickle.load_config
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_static/bench/bench-table.md"]

# Every cross-reference must resolve (-n). The pages other engineers are still writing are
# listed in the index by a pattern (``migrating*``), so a page that does not exist yet drops out
# of the table of contents instead of breaking the build (_ext/pending_pages.py); a page that
# exists but is in no table of contents still fails it.
nitpicky = True
# No intersphinx: the build must work offline, so references to the standard library and
# pluggy in signatures are accepted by name instead of linked.
nitpick_ignore_regex = [
    (
        "py:(class|obj|exc|func|data|mod|meth|attr)",
        r"(pickle|os|io|pathlib|collections\.abc|typing|argparse|types|logging|pluggy|enum|"
        r"dataclasses|sqlite3|_pytest)(\..*)?",
    ),
    # Private modules (safepickle._manager, safepickle._source, ...) hold implementation
    # types that public signatures mention (Policy.manager's PolicyManager, the file protocols
    # of load and dump): not part of the API, so deliberately not documented.
    ("py:class", r"safepickle\._\w+\..*"),
]
# names that annotations spell without a module (imported under TYPE_CHECKING)
autodoc_type_aliases = {
    "Verified": "safepickle.verify.Verified",
    "ContainerStream": "safepickle.containers.ContainerStream",
    "Member": "safepickle.containers.Member",
}

myst_enable_extensions = ["colon_fence", "deflist"]
# ``policies.md#policy-file``-style links from the README and between pages
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True

html_theme = "furo"
html_title = f"safepickle {release}"
html_static_path = ["_static"]
