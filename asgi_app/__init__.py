"""The Starlette twin: framework glue around blockbench's endpoint contract."""
