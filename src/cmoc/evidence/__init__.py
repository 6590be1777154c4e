"""Evidence: loading, validating, describing, importing and writing evidence bases (no PyMC)."""

from .base import EVIDENCE_FILES, EvidenceBase, group_prefixes
from .describe import describe, group_levels_table, mechanism_bands
from .levels import LEVELS, band_text, level_of_band, level_of_count, observed_codes
from .links import link_id, link_table, theory_links
from .load import load_evidence, validate_evidence
from .problems import EvidenceError, Problem
from .qda import import_qda
from .schema import EvidenceConfig, Thresholds
from .writing import atomic_write_bytes, atomic_write_text, file_mode, write_directory

__all__ = [
    "EVIDENCE_FILES",
    "LEVELS",
    "EvidenceBase",
    "EvidenceConfig",
    "EvidenceError",
    "Problem",
    "Thresholds",
    "atomic_write_bytes",
    "atomic_write_text",
    "band_text",
    "describe",
    "file_mode",
    "group_levels_table",
    "group_prefixes",
    "import_qda",
    "level_of_band",
    "level_of_count",
    "link_id",
    "link_table",
    "load_evidence",
    "mechanism_bands",
    "observed_codes",
    "theory_links",
    "validate_evidence",
    "write_directory",
]
