"""The one error type users see: a single line naming the file and the problem."""


class UserError(Exception):
    """Bad input or an unusable artifact. The CLI prints it as one line and exits with 2."""


class DataMismatchError(UserError):
    """The model and the data cannot be compared (landmark counts that share no points): every
    artifact of the run would fail alike, so the run stops instead of filling rows with it."""
