"""Print the globals the pandas catalogue pickles to; NEW marks names neither this plugin's
nor numpy's allow-list has.

Run it after upgrading pandas (``python plugins/safepickle-pandas/discover_globals.py``), review
each NEW name by hand and add it to ``src/safepickle_pandas/allowlist.py`` with its reason.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "tests"))

from pandas_catalogue import catalogue
from safepickle_numpy.discover import globals_of, report

from safepickle_pandas import TABLE

if __name__ == "__main__":
    print(report(globals_of(catalogue()), TABLE.names()))
