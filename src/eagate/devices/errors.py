from eagate.kit.problems import ProblemError


class DeviceNotFound(ProblemError):
    status, code, title = 404, "device_not_found", "Device not found"


class DeviceNameTaken(ProblemError):
    status, code, title = 409, "device_name_taken", "An active device already has this name"


class DeviceRevoked(ProblemError):
    status, code, title = 409, "device_revoked", "The device is revoked"
