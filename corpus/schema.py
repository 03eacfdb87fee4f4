"""The Document record: one Arrow schema shared by every stage (DESIGN §2)."""

from __future__ import annotations

import pyarrow as pa

from corpus.errors import DatasetError

SOURCES = ("web", "article", "book", "forum", "social")

DOCUMENT_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),  # stable: same input, same id
        pa.field("text", pa.large_string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),  # one of SOURCES
        pa.field("url", pa.string()),
        pa.field("title", pa.string()),
        pa.field("author", pa.string()),
        pa.field("date", pa.timestamp("us", tz="UTC")),
        pa.field("meta", pa.string()),  # JSON object of source-specific fields
    ]
)
CORE_COLUMNS = tuple(DOCUMENT_SCHEMA.names)
REQUIRED_COLUMNS = ("id", "text", "source")

# A rejected row is the document (as far as it could be read) plus why it was dropped.
REJECT_FIELDS = (
    pa.field("reason", pa.string(), nullable=False),
    pa.field("error", pa.string()),  # detail: a parse error, the offending value, ...
)


def conform(table: pa.Table) -> pa.Table:
    """Return `table` with the Document columns first, in their types; other columns follow."""
    for name in REQUIRED_COLUMNS:
        if name not in table.column_names:
            raise DatasetError(f"documents lack the required column '{name}'")
        if table.column(name).null_count:
            raise DatasetError(f"column '{name}' holds nulls; every document needs one")
    columns, fields = [], []
    for field in DOCUMENT_SCHEMA:
        if field.name in table.column_names:
            columns.append(table.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
        fields.append(field)
    for name in table.column_names:
        if name not in CORE_COLUMNS:
            columns.append(table.column(name))
            fields.append(table.schema.field(name))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def empty_documents() -> pa.Table:
    """A table of zero documents with the Document schema."""
    return DOCUMENT_SCHEMA.empty_table()


def rejected_rows(rows: list[dict]) -> pa.Table:
    """Build a rejects table from dicts holding Document fields plus `reason` and `error`."""
    schema = pa.schema(list(DOCUMENT_SCHEMA) + list(REJECT_FIELDS))
    return pa.Table.from_pylist(rows, schema=schema)
