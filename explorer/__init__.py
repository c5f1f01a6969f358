"""The Streamlit explorer. It only arranges what ``training`` computes."""

from pathlib import Path

DEMOS = Path(__file__).resolve().parent / "demos"  # the bundled demo runs: the app's, read-only
