"""The errors users see: a single line naming the file or option and the problem. The CLI
catches UserError alone (exit 2); any other exception is a bug and looks like one (exit 1)."""


class UserError(Exception):
    """Bad input or an unusable artifact. The CLI prints it as one line and exits with 2."""


class InputError(UserError, ValueError):
    """A value the user gave (an option, a file's content, a model's outputs) that cannot be
    used. It is a ValueError too, so code that validates with ValueError still catches it."""


class DataMismatchError(UserError):
    """The model and the data cannot be compared (landmark counts that share no points): every
    artifact of the run would fail alike, so the run stops instead of filling rows with it."""


def row_error(e: BaseException) -> str:
    """An exception as the one-line error of a table row: a UserError's own words, anything
    else its type and first line."""
    if isinstance(e, UserError):
        return " ".join(str(e).split())
    return f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}"
