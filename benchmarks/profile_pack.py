"""Run a policy pack's __main__.py with cProfile on the gRPC worker threads that serve its calls.

    python benchmarks/profile_pack.py OUT.prof PACK/__main__.py

`python -m cProfile` only sees the main thread, which just sleeps while the pack's server threads run the
policies. The stats are written when the pack stops (SIGINT, as offline-preview stops it).
"""

import atexit
import cProfile
import os
import runpy
import sys
from concurrent.futures import thread

output_path, entry_point = sys.argv[1], sys.argv[2]
sys.argv = [entry_point]
sys.path[0] = os.path.dirname(os.path.abspath(entry_point))
profiler = cProfile.Profile()
run_work_item = thread._WorkItem.run


def profiled_run(work_item):
    # The benchmark sends one call at a time, so one profiler is never enabled on two threads at once.
    profiler.enable()
    try:
        run_work_item(work_item)
    finally:
        profiler.disable()


thread._WorkItem.run = profiled_run
atexit.register(lambda: profiler.dump_stats(output_path))
runpy.run_path(entry_point, run_name="__main__")
