"""The base of every expected, user-facing domain failure."""


class ApplicationError(Exception):
    """HTTP-agnostic: services raise it, the API and the HTML views map it.

    Every subclass declares a stable snake_case ``code`` and the HTTP status it maps to.
    """

    code: str = "application_error"
    http_status: int = 400

    def __init__(self, message: str, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra
