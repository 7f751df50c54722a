"""How many examples a property test draws: its full count under `make test-slow` (``DR_THOROUGH=1``, which runs
the tests marked ``property`` again), a third of it in `make test`, which stays within its time on 2 cores."""

from __future__ import annotations

import os

THOROUGH = os.environ.get("DR_THOROUGH") == "1"


def examples(full: int) -> int:
    return full if THOROUGH else max(2, full // 3)
