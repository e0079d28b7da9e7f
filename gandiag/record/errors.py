"""The run folder's one user-facing error, apart so that the CLI names it without importing numpy."""


class RunError(ValueError):
    """A user-facing, one-line error about a run folder or one of its files (the CLI prints it as is)."""
