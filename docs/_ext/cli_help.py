"""The ``safepickle-cli`` directive: the command line reference, from the parser itself.

It runs ``safepickle.cli.build_parser()`` at build time and renders the ``--help`` of the
command and of every subcommand, found by walking the parser (so a subcommand registered in
``SUBCOMMANDS`` appears without touching the docs), each in a section of its own. The help is
shown exactly as the command prints it, in a literal block: help strings are plain text, and
their ``*.pkl`` globs must not be read as markup.
"""

from __future__ import annotations

import argparse
import importlib
import os
from collections.abc import Iterator
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

#: the help as a plain 88-column terminal prints it, whatever terminal builds the docs (Python
#: 3.14's argparse colours its help where the terminal could show colour)
ENVIRONMENT = {"COLUMNS": "88", "NO_COLOR": "1", "PYTHON_COLORS": "0"}


def walk(
    parser: argparse.ArgumentParser, prog: str
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """The parser and every subcommand parser under it, depth first, in registration order."""
    yield prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, f"{prog} {name}")


class CliHelp(SphinxDirective):
    """``safepickle-cli`` with the argument ``module:function`` of a parser factory."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        module_name, _, function = self.arguments[0].partition(":")
        build = getattr(importlib.import_module(module_name), function)
        saved = {name: os.environ.get(name) for name in ENVIRONMENT}
        os.environ.update(ENVIRONMENT)
        try:
            parser = build()
            pages = [(prog, sub.format_help()) for prog, sub in walk(parser, parser.prog)]
        finally:
            for name, value in saved.items():
                if value is None:
                    del os.environ[name]
                else:
                    os.environ[name] = value
        result: list[nodes.Node] = []
        for prog, text in pages:
            section = nodes.section(
                ids=[nodes.make_id(prog)], names=[nodes.fully_normalize_name(prog)]
            )
            section += nodes.title(text=prog)
            section += nodes.literal_block(text, text, language="text")
            self.state.document.note_implicit_target(section)
            result.append(section)
        return result


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("safepickle-cli", CliHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
