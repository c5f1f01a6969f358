"""Widgets: controls shared by several pages (run buttons, the compare picker, the epoch scrubber, downloads, the
Train form) and the custom components, each Python wrapper in a folder beside its JavaScript front end."""
