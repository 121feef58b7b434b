"""Print the globals the numpy catalogue pickles to; NEW marks names the allow-list lacks.

Run it after upgrading numpy (``python plugins/safepickle-numpy/discover_globals.py``), review
each NEW name by hand and add it to ``src/safepickle_numpy/allowlist.py`` with its reason.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "tests"))

from numpy_catalogue import catalogue

from safepickle_numpy import TABLE
from safepickle_numpy.discover import globals_of, report

if __name__ == "__main__":
    print(report(globals_of(catalogue()), TABLE.names()))
