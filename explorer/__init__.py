"""The Streamlit explorer. It only arranges what ``training`` computes."""
