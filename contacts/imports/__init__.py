"""CSV import of contacts: check an upload, map its columns, then validate every row and write
them all in one transaction; contacts/tasks.py runs that last part in the worker.

Rows go through `contact_clean`, so an import accepts exactly what the form and the API accept.
A row error names the file's physical line, the CSV column, the bad value and why.

- files: the upload (encoding, CSV structure, header) and its preview
- mapping: which column becomes which field; starting the import
- rows: checking every row and matching existing contacts, writing nothing
- writing: the one transaction that writes everything
- run: the task around both, safe to run twice
"""

from .files import (
    ENCODING_LABELS,
    ENCODINGS,
    csv_blank_records,
    decode_csv,
    import_check_size,
    import_preview,
    import_upload,
    read_header,
)
from .mapping import import_retry_skipping, import_start, mapping_clean, mapping_fields, mapping_guess
from .rows import ImportPlan, import_validate
from .run import errors_csv_rows, import_fail_if_stale, import_run
from .writing import ImportConflict, import_write

__all__ = [
    "csv_blank_records",
    "ENCODINGS",
    "ENCODING_LABELS",
    "ImportConflict",
    "ImportPlan",
    "decode_csv",
    "errors_csv_rows",
    "import_check_size",
    "import_fail_if_stale",
    "import_preview",
    "import_retry_skipping",
    "import_run",
    "import_start",
    "import_upload",
    "import_validate",
    "import_write",
    "mapping_clean",
    "mapping_fields",
    "mapping_guess",
    "read_header",
]
