"""Build the optional C extension; every piece of metadata lives in pyproject.toml.

``safepickle._speedups`` is the verifier's compiled fast path. It is optional: where no compiler
is available the build goes on without it and ``safepickle.verify`` runs in pure Python.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("safepickle._speedups", ["safepickle/_speedups.c"], optional=True),
    ],
)
