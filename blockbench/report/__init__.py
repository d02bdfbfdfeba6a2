"""The report: static pages, charts and verdicts built from stored results."""
