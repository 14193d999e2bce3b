"""Ingestion: turning the files people collect (pages, feeds, PDFs) into articles, and folding
wire copies. `rag/documents.py` holds the Article record and the plain-text and JSON readers."""
