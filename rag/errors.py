"""Errors raised inside the core; the CLI and the API translate them at their edges."""


class RagError(Exception):
    """Base class: a problem a user can act on, with a message that says how."""

    status_code = 400


class EmptyQuestion(RagError):
    status_code = 422


class QuestionTooLong(RagError):
    status_code = 422


class BadQuery(RagError):
    status_code = 422


class BadDocument(RagError):
    status_code = 422


class DocumentNotFound(RagError):
    status_code = 404


class IndexNotFound(RagError):
    status_code = 503


class IncompatibleIndex(RagError):
    status_code = 503


class CorruptIndex(RagError):
    status_code = 503


class ModelNotFound(RagError):
    status_code = 503
