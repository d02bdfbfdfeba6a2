"""Every workload and the step sweep in one locustfile, for the web UI's class picker: pick a
workload (IoSleep, Cpu, ...), pick StepSweep or keep Default for a fixed user count, press start.

    locust --config loadtests/locust.conf        then open http://localhost:8089

The web UI has a "Ceiling" tab (ceiling_tab.py): the throughput now against the target's bound,
and the efficiency, live.

Headless, a locustfile with a shape always runs it (-u, -r are ignored), so this file sweeps:
    locust -f loadtests/locustfile.py --headless -H http://127.0.0.1:8001 IoSleep
For a fixed user count headless, use workloads.py alone.
"""

from __future__ import annotations

import ceiling_tab  # noqa: F401  (adds the web UI's Ceiling tab when imported)
import workloads
from sweep import StepSweep

# Locust lists the user classes and shapes it finds among a locustfile's globals.
globals().update(workloads.WEB_UI_CLASSES)

__all__ = ["StepSweep"]
