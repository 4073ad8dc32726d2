"""Injectable faults for the sandbox server.

A :class:`Fault` makes the sandbox misbehave the way real networks, gateways and
servers do, so the client's handling of each case can be tested over real HTTP.

Scope: unless noted, a fault applies to ``PUT /allocation/{ref}/allocatewithservicegroup/{group}``
calls only.  ``rate-limit`` and ``unauthorized`` apply to any request, ``servicegroups-forbidden``
to ``GET /servicegroups``.  ``any_request=True`` widens any fault to every request (the
"-after-commit" ones then answer normally first and spoil the answer; the "-before-commit" ones
skip the handler).  ``match`` narrows a fault to requests whose decoded path contains that
substring (case-insensitive).

``times=None`` means every matching request; an int counts down and the fault is removed when
it reaches zero.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["Fault", "FAULT_NAMES", "FAULT_DESCRIPTIONS"]

FAULT_DESCRIPTIONS: dict[str, str] = {
    "rate-limit": "429 with Retry-After (any request)",
    "server-error": "500 error body, allocation not performed",
    "server-error-after-commit": "allocation performed, then 500",
    "html-502": "502 HTML page from a 'proxy', nothing performed",
    "drop-after-commit": "allocation performed, then the connection is closed without an answer",
    "drop-before-commit": "connection closed without an answer, nothing performed",
    "slow-after-commit": "allocation performed, answer delayed by `delay` seconds (default 3)",
    "accepted-202": "202 at once; Allocating for `delay` seconds (default 0.3), then the result",
    "garbage-200": "allocation performed, 200 with a non-JSON HTML body",
    "unauthorized": "401 from the API gateway (any request)",
    "servicegroups-forbidden": "403 on GET /servicegroups",
    # -- hostile answers (issue 7): each attacks one of the client's rules of trust
    "slow-commit": "the PUT takes effect only after `delay` s (default 3), then answers; a look meanwhile "
                   "shows Unallocated",
    "rate-limit-after-commit": "allocation performed, then 429 with Retry-After",
    "flapping-202": "202 at once; the status flaps Unallocated/Allocating for `delay` s (default 1), then the result",
    "echo-key": "allocation performed; the key echoed in CarrierName, tracking, Description and x-correlation-id",
    "echo-key-error": "400 whose Message, CorrelationId and Details echo the key (plain, upper case, URL-encoded)",
    "gzip-bomb": "200 with Content-Encoding gzip: ~1 MB inflating to 1 GiB",
    "huge-body": "200 with a body of `size` bytes (default 200 MB), streamed",
    "drip-headers": "allocation performed; the answer's header block sent one byte every `delay` s (default 1)",
    "drip-body": "allocation performed; the headers at once, then the body one byte every `delay` s (default 1)",
    "desync": "allocation performed; the answer is followed on the same connection by a second, unasked "
              "answer (allocated, tracking TRK-NEVER-ISSUED)",
    "other-consignment": "allocation performed; the answer is about another consignment (EC-999-999-999)",
    "empty-200": "allocation performed; 200 with {}",
    "status-only-200": "allocation performed; 200 with [{\"StatusCode\": 200}]",
    "wrong-types-200": "allocation performed; 200 whose carrier fields are numbers, lists and objects",
    "label-not-ready": "404 LabelNotFound on GET /labels/... until `delay` seconds (default 0.5) after the allocation",
}

FAULT_NAMES: tuple[str, ...] = tuple(FAULT_DESCRIPTIONS)

#: Which requests a fault applies to by default: "any", "allocate" or "servicegroups".
DEFAULT_SCOPE: dict[str, str] = {name: "allocate" for name in FAULT_NAMES}
DEFAULT_SCOPE.update({"rate-limit": "any", "unauthorized": "any", "servicegroups-forbidden": "servicegroups"})
DEFAULT_SCOPE["label-not-ready"] = "label"  # GET /labels/... only; `times` counts the label requests it sees

#: Default `delay` (seconds) for the faults that use one.
DEFAULT_DELAY: dict[str, float] = {"slow-after-commit": 3.0, "accepted-202": 0.3, "slow-commit": 3.0,
                                   "flapping-202": 1.0, "drip-headers": 1.0, "drip-body": 1.0}
DEFAULT_SIZE = 200_000_000  # huge-body
DEFAULT_DELAY["label-not-ready"] = 0.5


@dataclass
class Fault:
    """One injected fault.

    ``Fault("drop-after-commit", times=1)``; ``Fault("rate-limit", retry_after=2)``;
    ``Fault("slow-after-commit", delay=0.5, match="EC-000-DSK-001")``.
    """

    name: str
    times: int | None = None
    match: str | None = None
    retry_after: int = 1
    delay: float | None = None
    any_request: bool = False
    size: int = DEFAULT_SIZE  # huge-body only

    def __post_init__(self) -> None:
        if self.name not in FAULT_NAMES:
            raise ValueError(
                f"unknown fault {self.name!r}; valid names: {', '.join(FAULT_NAMES)}"
            )
        if self.times is not None:
            if isinstance(self.times, bool) or not isinstance(self.times, int) or self.times < 1:
                raise ValueError(f"fault times must be a positive integer or None, not {self.times!r}")
        if isinstance(self.retry_after, bool) or not isinstance(self.retry_after, int) or self.retry_after < 0:
            raise ValueError(f"retry_after must be a non-negative integer, not {self.retry_after!r}")
        if self.delay is not None and (self.delay < 0):
            raise ValueError(f"delay must be >= 0, not {self.delay!r}")

    @property
    def effective_delay(self) -> float:
        """The delay in seconds, with the per-fault default filled in."""
        if self.delay is not None:
            return float(self.delay)
        return DEFAULT_DELAY.get(self.name, 0.0)

    @property
    def scope(self) -> str:
        return "any" if self.any_request else DEFAULT_SCOPE[self.name]

    def copy(self) -> "Fault":
        return dataclasses.replace(self)

    @classmethod
    def parse(cls, text: str) -> "Fault":
        """Parse the CLI form ``NAME`` or ``NAME:TIMES`` (``drop-after-commit:2``)."""
        text = (text or "").strip()
        name, sep, times_text = text.partition(":")
        name = name.strip().lower()
        times: int | None = None
        if sep:
            try:
                times = int(times_text.strip())
            except ValueError:
                raise ValueError(
                    f"fault {text!r}: TIMES must be a positive integer (NAME or NAME:TIMES)"
                ) from None
            if times < 1:
                raise ValueError(f"fault {text!r}: TIMES must be a positive integer")
        return cls(name, times=times)

    def __str__(self) -> str:
        return self.name if self.times is None else f"{self.name}:{self.times}"
