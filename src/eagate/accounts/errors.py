from eagate.kit.problems import ProblemError


class EmailTaken(ProblemError):
    status, code, title = 409, "email_taken", "An account with this email already exists"


class InvalidCredentials(ProblemError):
    status, code, title = 401, "invalid_credentials", "Wrong email or password"

    def __init__(self) -> None:
        super().__init__(headers={"WWW-Authenticate": "Bearer"})


class WrongPassword(ProblemError):
    """The signed-in owner's password, asked again before a sensitive change, is wrong."""

    status, code, title = 403, "invalid_credentials", "Wrong password"


class AccountLocked(ProblemError):
    status, code, title = 403, "account_locked", "This account is locked"

    def __init__(self) -> None:
        super().__init__("an operator locked this account; contact support")


class PasswordHashingBusy(ProblemError):
    status, code, title = 503, "password_hashing_busy", "Too many password checks at once"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"the server is checking as many passwords as it can; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


class SessionNotFound(ProblemError):
    status, code, title = 404, "session_not_found", "Session not found"
