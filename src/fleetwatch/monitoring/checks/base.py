"""The check framework: a check type is a class with a name, parameters and ``measure()``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from django.conf import settings


class CheckError(RuntimeError):
    """The check could not run (a tool missing, unparseable output): logged, nothing stored."""


@dataclass
class Measurement:
    """What a check found: one point of a registry metric (``configuration``)."""

    configuration: str
    fields: dict[str, Any]
    main_tags: dict[str, str] = field(default_factory=dict)
    # False: store and update health, but notify nobody (e.g. the device is already critical).
    send_alert: bool = True


class BaseCheck:
    name: ClassVar[str]
    label: ClassVar[str]
    # Parameters with their defaults and (min, max) bounds; settings may override defaults.
    params: ClassVar[dict[str, tuple[int, int, int]]] = {}
    # Auto-created for every device unless FLEETWATCH_AUTO_CHECKS says otherwise.
    auto: ClassVar[bool] = False

    def __init__(self, check, now: datetime):
        self.check = check
        self.device = check.device
        self.now = now
        self.options = self.resolve_params(check.params or {})

    @classmethod
    def resolve_params(cls, given: dict) -> dict[str, int]:
        defaults = settings.FLEETWATCH_CHECK_PARAMS.get(cls.name, {})
        resolved = {}
        for name, (default, low, high) in cls.params.items():
            value = given.get(name, defaults.get(name, default))
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise CheckError(
                    f"{cls.name} parameter {name} must be an integer from {low} to {high}, not {value!r}"
                )
            resolved[name] = value
        unknown = set(given) - set(cls.params)
        if unknown:
            raise CheckError(f"{cls.name} has no parameter {', '.join(sorted(unknown))}")
        return resolved

    @classmethod
    def may_run_now(cls, now: datetime) -> bool:
        """A class-wide gate (snooze schedules)."""
        return True

    def measure(self) -> list[Measurement]:
        """The measurements to store; an empty list when there is nothing to say (unknown)."""
        raise NotImplementedError
