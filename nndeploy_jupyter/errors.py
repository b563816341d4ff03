"""Domain errors. Services raise these; the handler base turns each into an HTTP status and a reason.

Kept free of Tornado so services and the runtime can be used and tested without a server.
"""


class ApiError(Exception):
    """An error a client caused or should know about, with the HTTP status that says so."""

    status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadRequest(ApiError):
    status = 400


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class TooLarge(ApiError):
    status = 413


class Unavailable(ApiError):
    status = 503
