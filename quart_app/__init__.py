"""The Quart twin: framework glue around blockbench's endpoint contract."""
