from eagate.errors import ProblemError


class EmailTaken(ProblemError):
    status, code, title = 409, "email_taken", "An account with this email already exists"


class InvalidCredentials(ProblemError):
    status, code, title = 401, "invalid_credentials", "Wrong email or password"

    def __init__(self) -> None:
        super().__init__(headers={"WWW-Authenticate": "Bearer"})
