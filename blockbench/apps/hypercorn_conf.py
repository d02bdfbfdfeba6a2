"""Hypercorn's settings for the twins: ``hypercorn --config python:blockbench.apps.hypercorn_conf``.

Hypercorn starts its workers as daemonic processes unless told otherwise, and its command line
can only turn that on. A daemonic process may not have children, so the contract's
``/cpu?offload=process`` (a process pool in the worker) would fail with a 500 on every call.
"""

daemon = False
