"""User-facing errors: the CLI prints their message on one line and exits non-zero."""


class MementoError(Exception):
    """An error whose message is fit to show a user as is (one line, no traceback)."""

    exit_code = 2
