"""blockbench: when non-blocking (ASGI) Python servers beat blocking (WSGI) ones, measured."""

__version__ = "0.1.0"
