"""PostgreSQL + pgvector as the store (`RAG_STORE=postgres`): the `cluster` extra.

`PgPipeline` is what the edges use (through `rag.pipeline.open_pipeline`); `PgStore` holds the
SQL; `schema` the versioned migrations; `fulltext` the tsvector and tsquery literals.
"""
