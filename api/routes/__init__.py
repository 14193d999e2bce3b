"""Thin routes: validate at the edge, call the pipeline, return its documents.

Routes that call the pipeline are plain `def`: FastAPI runs them in its threadpool, so a write
that is embedding articles never stops the event loop from serving queries meanwhile.
"""
