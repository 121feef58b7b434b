"""Let the index list pages that other contributors have not written yet.

The index's tables of contents name such pages by a pattern (``migrating*``, with ``:glob:``):
once the page exists it is listed, and until then the pattern matches nothing. Sphinx warns about
a pattern that matches nothing, and that warning has no type ``suppress_warnings`` could name, so
this drops exactly that warning. Everything else still fails the ``-W`` build, including a page
that exists but that no table of contents lists.
"""

from __future__ import annotations

import logging
from typing import Any

from sphinx.application import Sphinx


class _EmptyGlob(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "subtype", None) != "empty_glob"


def setup(app: Sphinx) -> dict[str, Any]:
    # sphinx.util.logging names its loggers "sphinx." + the module's name
    logging.getLogger("sphinx.sphinx.directives.other").addFilter(_EmptyGlob())
    return {"parallel_read_safe": True, "parallel_write_safe": True}
