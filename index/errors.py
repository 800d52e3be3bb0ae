"""Named errors of the index layer.

Loading an index fails loudly and specifically: a caller can tell "this index was built with
another model" (rebuild it) from "a file is damaged" (restore or rebuild it) from "this index
is newer than this code" (upgrade the package).

Example:
    >>> try:
    ...     PassageIndex.load("var/demo-index", expected_model="other/model")
    ... except IndexModelMismatchError as error:
    ...     print(error)
"""

from __future__ import annotations


class ModelNotInstalledError(ImportError):
    """The package that ships the embedding model is not installed."""


class IndexLoadError(Exception):
    """Base of every error raised while opening an index directory."""


class IndexNotFoundError(IndexLoadError):
    """No index exists at the path (build one with ``followup index build``)."""


class IndexModelMismatchError(IndexLoadError):
    """The index was built with another embedding model (name or dimension differ)."""


class IndexCorruptError(IndexLoadError):
    """A file of the index is missing, damaged, or inconsistent with the manifest."""


class IndexFormatError(IndexLoadError):
    """The index was written in a format version newer than this code can read."""


class IndexDiskFullError(OSError):
    """The disk filled while a new index version was written; the index is unchanged.

    The message is one line that names the path that could not be written."""


class IndexUnavailableError(IndexLoadError):
    """The index's Qdrant collection cannot be opened: its server is unreachable, or (local
    mode) another process holds it."""
