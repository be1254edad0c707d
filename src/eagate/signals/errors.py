from eagate.kit.problems import ProblemError


class SignalNotFound(ProblemError):
    status, code, title = 404, "signal_not_found", "Signal not found"


class NoActiveDevices(ProblemError):
    status, code, title = 409, "no_active_devices", "The owner has no active device to target"


class IdempotencyKeyReused(ProblemError):
    status, code, title = (
        409,
        "idempotency_key_reused",
        "This Idempotency-Key was used with a different request body",
    )


class AckConflict(ProblemError):
    status, code, title = 409, "ack_conflict", "A different ack is already recorded"
