"""Benchmarks that print their figures and same-run ratios (docs/benchmarks.md); run as scripts,
e.g. ``python benchmarks/scrub.py``, from a checkout installed with ``make`` (``pip install -e .``)."""
