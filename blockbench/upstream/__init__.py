"""The slow upstream service the endpoints call, and the harness's measurements of it.

``python -m blockbench.upstream`` runs it. This file imports nothing, so the harness image
(without uvloop or httptools) can import the calibration.
"""
