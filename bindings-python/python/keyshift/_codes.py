"""`VerifyCode`: the outcome codes of a verification (a `str`-valued enum)."""

from __future__ import annotations

import enum


class VerifyCode(str, enum.Enum):
    """Why a verification is (in)valid. Members compare equal to their string value."""

    VALID = "VALID"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    INSUFFICIENT_PERMISSIONS = "INSUFFICIENT_PERMISSIONS"
    INSUFFICIENT_CREDITS = "INSUFFICIENT_CREDITS"
    USAGE_EXCEEDED = "USAGE_EXCEEDED"
    RATE_LIMITED = "RATE_LIMITED"
    DISABLED = "DISABLED"
    EXPIRED = "EXPIRED"
    UNKNOWN = "UNKNOWN"

    def __str__(self) -> str:
        return self.value
