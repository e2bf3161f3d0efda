"""Errors that stop a whole import (as opposed to a rejected row), with messages meant for the user."""


class ImportLimitError(Exception):
    """The file is larger or longer than this installation accepts (``IMPORT_MAX_BYTES`` / ``IMPORT_MAX_ROWS``)."""


class ImportFileError(Exception):
    """The file cannot be imported as given: not CSV/XLSX, unreadable, or the mapping doesn't fit it."""
