"""Importing coding from QDA programs (REFI-QDA, Taguette, count matrices), safely.

A reader per format turns an export into a :class:`QdaProject` (documents, codes, counts of
coding references); :func:`import_qda` maps the codes to the theory and writes a batch for
``cmoc update`` or a complete evidence base. Readers are imported by name from
:data:`READERS` when used, so importing this package stays light (no PyMC, no openpyxl).
"""

from .convert import READERS, ImportResult, import_qda, read_project, source_ids
from .mapping import (
    CodeMapping,
    MappingRule,
    Theory,
    Unmapped,
    convention_target,
    map_codes,
    read_mapping_file,
)
from .model import QdaCode, QdaDocument, QdaProject
from .safety import DEFAULT_LIMITS, Limits, QdaImportError, UnsafeInputError, csv_text

__all__ = [
    "DEFAULT_LIMITS",
    "READERS",
    "CodeMapping",
    "ImportResult",
    "Limits",
    "MappingRule",
    "QdaCode",
    "QdaDocument",
    "QdaImportError",
    "QdaProject",
    "Theory",
    "Unmapped",
    "UnsafeInputError",
    "convention_target",
    "csv_text",
    "import_qda",
    "map_codes",
    "read_mapping_file",
    "read_project",
    "source_ids",
]
