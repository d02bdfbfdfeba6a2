"""``python -m blockbench.upstream``: run the slow upstream service."""

from blockbench.upstream.server import main

main()
