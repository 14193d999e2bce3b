"""Extractive, cited question answering over conflict reporting."""

__version__ = "0.1.0"
