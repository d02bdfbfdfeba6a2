"""The run engine: plans a run, measures it level by level, and records what bounded each level."""
