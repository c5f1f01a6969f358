"""The bottom layer: what every other part of the library shares, and nothing it builds on.

Errors and the sentence helpers (``errors``), the validated configs (``config``), what a model costs
before it exists (``costs``), flat settings to a config (``settings``), and the one place that reads the
environment's limits and folders (``environment``). Imports nothing else of ``training``; no torch.
"""
