"""Print the globals the fitted scikit-learn catalogue pickles to; NEW marks names neither
this plugin's nor numpy's allow-list has.

Run it after upgrading scikit-learn (``python plugins/safepickle-sklearn/discover_globals.py``),
review each NEW name by hand and add it to ``src/safepickle_sklearn/allowlist.py`` with its
reason (a new estimator class goes into ESTIMATOR_CLASSES).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "tests"))

from safepickle_numpy.discover import globals_of, report
from sklearn_catalogue import catalogue, left_out

from safepickle_sklearn import TABLE

if __name__ == "__main__":
    print(report(globals_of(catalogue()), TABLE.names()))
    print("estimators that did not fit on the tiny dataset:", ", ".join(left_out()) or "none")
