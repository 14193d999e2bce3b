"""Settings of the HTTP edge.

`ApiSettings` is the one settings object (`rag.settings.Settings`: token, limits, CORS); the
name is kept so routes can ask for "the settings that govern the API". `OpsSettings` holds the
operational switches of `rag serve` that the core never reads (logging), from the same
`RAG_`-prefixed environment.
"""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.settings import Settings as ApiSettings

__all__ = ["ApiSettings", "OpsSettings"]


class OpsSettings(BaseSettings):
    """How `rag serve` reports on itself."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    log_json: bool = Field(
        default=False, description="Log one JSON object per line instead of plain text."
    )
