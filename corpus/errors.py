"""Errors a user can act on: each carries one line that says what went wrong and where."""


class CorpusError(Exception):
    """An error the command line reports as one line, without a traceback."""


class DatasetError(CorpusError):
    """A dataset folder that is missing, incomplete or unreadable."""


class CorruptPartError(DatasetError):
    """A part whose bytes do not match the checksum its manifest or commit record gives."""
