"""The project's exception: its message names the culprit and says the fix."""


class ZenError(Exception):
    """An error a user can act on. Scripts print its message and exit non-zero, without a traceback."""

    exit_code = 2
