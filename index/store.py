"""Former home of the index's writer and reader, kept so that existing imports still work.

New code imports from the modules that now hold these: :mod:`index.layout` (the files on disk),
:mod:`index.publish` (atomic versions, the writer lock), :mod:`index.records` (passage and
document rows), :mod:`index.build` (build, add, remove), :mod:`index.load`
(:class:`PassageIndex`) and :mod:`index.verify`.
"""

from index.build import build_index
from index.load import PassageIndex
from index.records import document_content_hash

__all__ = ["PassageIndex", "build_index", "document_content_hash"]
