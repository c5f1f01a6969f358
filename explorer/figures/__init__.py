"""Figures: Plotly charts and images as functions of arrays and records, in the visitor's language. They read no
session state and draw nothing themselves; pages show them."""
