"""The load: the scenario catalogue, the Locust processes that send it, and what they report.

The Locust files import the scenarios and completions modules, so this file imports nothing.
"""
