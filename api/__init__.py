"""The HTTP edge: a FastAPI app over the same `rag.pipeline.Pipeline` the CLI uses."""
