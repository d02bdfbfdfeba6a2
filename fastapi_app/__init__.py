"""The FastAPI twin: the endpoint contract as a FastAPI user writes it."""
