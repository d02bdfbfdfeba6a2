"""The Flask twin: framework glue around blockbench's endpoint contract."""
