"""The one exception type for mistakes a user can make (bad flag, missing file, corrupt upload).

Its message is a single sentence meant for the user; the CLI prints it and exits 2,
the explorer shows it with ``st.error``. Anything else that escapes is a bug.
"""


class UserError(ValueError):
    """A problem with the user's input, explained in one sentence."""
