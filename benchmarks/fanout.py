"""Run only the fanout workload: ``python benchmarks/fanout.py [--quick] [--json PATH]``."""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # Replace the script dir (benchmarks/) with the repo root, so "settings" or "apps" here
    # never shadow a top-level module.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
    from benchmarks.runner import run_only

    sys.exit(run_only("fanout", sys.argv[1:]))
