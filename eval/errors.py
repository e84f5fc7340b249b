"""The one error type users see: a single line naming the file and the problem."""


class UserError(Exception):
    """Bad input or an unusable artifact. The CLI prints it as one line and exits with 2."""
