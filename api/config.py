"""The HTTP edge reads the one settings object (`rag.settings.Settings`); this name is kept so
routes can ask for "the settings that govern the API"."""

from rag.settings import Settings as ApiSettings

__all__ = ["ApiSettings"]
