"""Explaining a refusal in the operator's words: the allocation workflow's look at what SortedPRO holds.

A mixin of :class:`~despatch_desk.core.AllocationWorkflow` (it uses the workflow's client and outcome
builders). Already allocated (to whom, in which group, when), cancelled, no service in the group can take
it, no such group, no such consignment; and "already allocated to this very group" after this desk's own
uncertain attempt is that attempt's allocation, confirmed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from . import api
from .outcome import (_ALLOCATED_STATES, _CANCELLED_STATES, _REDUNDANT_PREFIX, _RETRYABLE_STATES, Outcome,
                      OutcomeKind, _local_hhmm, _server_fields, _server_words)

if TYPE_CHECKING:
    from .core import _Run


class RefusalWords:
    def _explain_refusal(self, run: _Run, exc: api.ApiResponseError | None,
                         summary: api.AllocationSummary | None = None) -> Outcome:
        run.refusal_error = exc
        run.refusal_summary = summary
        try:
            consignment = self.client.get_consignment(run.reference, cancel=run.token)
        except api.NotFound:
            return Outcome(
                OutcomeKind.NOT_ALLOCATED, run.reference, run.group,
                f"There is no consignment {run.reference} in this SortedPRO account.",
                **_server_fields(exc, summary),
            )
        except api.ApiError as error:
            if error.cancelled or run.token.cancelled:
                from .core import Cancelled  # core imports this module

                raise Cancelled from None
            consignment = None
        if consignment is None:
            words = _server_words(exc, summary) or "no reason given"
            return Outcome(OutcomeKind.NOT_ALLOCATED, run.reference, run.group,
                           f"SortedPRO refused to allocate {run.reference}: {words}", **_server_fields(exc, summary))
        return self._explain(run, consignment, exc, summary)

    def _explain(self, run: _Run, consignment: api.Consignment, exc: api.ApiError | None,
                 summary: api.AllocationSummary | None = None) -> Outcome:
        if isinstance(exc, api.ApiResponseError):
            server = _server_fields(exc, summary)
        else:
            server = _server_fields(run.refusal_error, summary or run.refusal_summary)
        state = consignment.state_key
        ref = run.reference
        if state in _ALLOCATED_STATES or (state and state not in _RETRYABLE_STATES and consignment.allocation
                                          and state not in _CANCELLED_STATES):
            alloc = consignment.allocation
            if (run.uncertain and state in _ALLOCATED_STATES and alloc and alloc.group_reference
                    and alloc.group_reference.lower() == run.group.lower()):
                # "Already allocated" to this very group after our own uncertain attempt: that attempt did it.
                return self._from_consignment(run, consignment, OutcomeKind.ALLOCATED, recovered=True)
            outcome = self._from_consignment(run, consignment, OutcomeKind.ALREADY_ALLOCATED)
            when = _local_hhmm(alloc.allocated_at) if alloc else None
            bits = [f"group {alloc.group_reference}" if alloc and alloc.group_reference else None, when]
            extra = ", ".join(b for b in bits if b)
            state_words = "" if state == "allocated" else f" and is {consignment.state}"
            message = (f"{ref} was already allocated to {outcome.service_text or 'a carrier service'}"
                       f"{f' ({extra})' if extra else ''}{state_words}. Nothing was changed.")
            return replace(outcome, message=message, **server)
        if state in _CANCELLED_STATES:
            return Outcome(OutcomeKind.NOT_ALLOCATED, ref, run.group,
                           f"{ref} is {consignment.state or 'cancelled'}: it cannot be allocated.", **server)
        if state == "allocationfailed" and consignment.failed_allocation:
            failed = consignment.failed_allocation
            reason = _REDUNDANT_PREFIX.sub("", failed.message or _server_words(exc, summary) or "") or "no reason given"
            group = failed.group_reference or run.group
            return Outcome(OutcomeKind.NOT_ALLOCATED, ref, run.group,
                           f"No service in group {group} can take {ref}: {reason}", **server)
        words = _server_words(exc, summary)
        if server.get("server_code") and "servicegroup" in server["server_code"].lower().replace("carrier", ""):
            return Outcome(OutcomeKind.NOT_ALLOCATED, ref, run.group,
                           f"Service group '{run.group}' does not exist in this SortedPRO account"
                           f"{f': {words}' if words else '.'}", **server)
        if words:
            return Outcome(OutcomeKind.NOT_ALLOCATED, ref, run.group,
                           f"SortedPRO refused to allocate {ref}: {words}", **server)
        return Outcome(OutcomeKind.NOT_ALLOCATED, ref, run.group,
                       f"{ref} was not allocated (it is {consignment.state or 'in an unknown state'}).", **server)
