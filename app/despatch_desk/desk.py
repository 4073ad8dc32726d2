"""The desk: settings + key + client + workflow + history, as one object the CLI and GUI share.

``Desk.allocate`` is the whole scan path without a window: parse, write the attempt to the
history *before* sending, run the workflow, write the outcome. It is thread-safe; the GUI calls
it from worker threads, the CLI from the main thread.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING
from . import api, details as details_mod, undo
from .cancel import CancelToken
from .core import AllocationWorkflow, Outcome, OutcomeKind, RetryPolicy, _StopEventView
from .credentials import CredentialError, KeyStore
from .errors import EXIT_KEY, EXIT_UNREACHABLE, EXIT_USAGE, DeskError
from .history import History, HistoryError, HistoryRow
from .reflock import ReferenceLock
from .references import InvalidReference, parse_reference
from .settings import Paths, Settings, SettingsStore

if TYPE_CHECKING:
    from .details import Details

log = logging.getLogger("despatch_desk.desk")
_DEFAULT_DEADLINE_S = RetryPolicy().scan_deadline_s  # a policy left at this takes the desk's setting


class DeskNotReady(DeskError):
    """No usable API key or API address; ``kind`` says which (for exit codes and the UI)."""

    def __init__(self, message: str, kind: OutcomeKind = OutcomeKind.UNAUTHORIZED) -> None:
        codes = {OutcomeKind.UNAUTHORIZED: EXIT_KEY, OutcomeKind.UNREACHABLE: EXIT_UNREACHABLE}
        super().__init__(message, exit_code=codes.get(kind, EXIT_USAGE))
        self.kind = kind


class Desk:
    def __init__(
        self,
        paths: Paths,
        *,
        settings: Settings | None = None,
        keystore: KeyStore | None = None,
        history: History | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.paths = paths
        self.settings_store = SettingsStore(paths)
        self.settings = settings if settings is not None else self.settings_store.load()
        self.keystore = keystore or KeyStore()
        self._history = history
        self._base_url_override = base_url
        self._api_key_override = api_key
        self.policy = policy or RetryPolicy()
        self.closing = CancelToken()  # every scan's token is a child: stop() ends every wait
        self._lock = threading.Lock()
        self._client: api.SortedProClient | None = None
        self._workflow: AllocationWorkflow | None = None
        self.interrupted_on_open = 0
        self.last_history_error: str | None = None  # shown by the GUI: the scan itself still went through

    # ------------------------------------------------------------------ configuration
    @property
    def base_url(self) -> str:
        return (self._base_url_override or self.settings.api_base_url).rstrip("/")

    @property
    def origin(self) -> str:
        return api.api_origin(self.base_url)

    @property
    def environment_label(self) -> str:
        """What the desk is really talking to: "production", "sandbox" or "custom" (from the URL in
        use, so an override such as DESPATCH_DESK_API_URL or demo mode is never shown as production)."""
        if self.origin == api.api_origin(api.PRODUCTION_URL):
            return "production"
        if self.origin == api.api_origin(api.SANDBOX_URL):
            return "sandbox"
        return "custom"

    @property
    def environment_problem(self) -> str | None:
        """Plain words while the environment must be confirmed (a damaged settings file), else None.
        An address given explicitly (demo mode, tests, ``--base-url``) needs no confirmation."""
        if self._base_url_override:
            return None
        return self.settings.environment_problem

    def record(self, outcome: Outcome) -> int | None:
        """Record an outcome decided without the network (a scan refused on the spot)."""
        try:
            return self.history.record(outcome, workstation=self.settings.workstation, environment=self.origin)
        except HistoryError as exc:
            self.last_history_error = str(exc)
            log.error("history: %s", exc)
            return None

    @property
    def history(self) -> History:
        with self._lock:
            if self._history is None:
                self._history = History(self.paths.history_file)
                self.interrupted_on_open = self._history.mark_interrupted()
            return self._history

    def api_key(self) -> str:
        """The key for the current API origin, or :class:`DeskNotReady` in plain words."""
        if self._api_key_override:
            return self._api_key_override
        try:
            key = self.keystore.get(self.origin)
        except CredentialError as exc:
            raise DeskNotReady(str(exc)) from None
        if not key:
            raise DeskNotReady(
                f"No API key is stored for {self.origin}. Add it in Settings (or run 'despatch-desk key set')."
            )
        return key

    def set_overrides(self, *, base_url: str | None = None, api_key: str | None = None) -> None:
        """Demo mode and tests: point the desk at another server and key, then rebuild the client."""
        self._base_url_override = base_url
        self._api_key_override = api_key
        self.reconfigure()

    def reconfigure(self) -> None:
        """Settings or key changed: the next call builds a fresh client (the desk stays usable)."""
        with self._lock:
            old, self._client, self._workflow = self._client, None, None
        if old is not None:
            old.close()

    def workflow(self) -> AllocationWorkflow:
        with self._lock:
            if self._workflow is None:
                try:
                    base_url = api.validate_base_url(self.base_url)
                except api.ConfigurationError as exc:
                    raise DeskNotReady(exc.message, OutcomeKind.UNREACHABLE) from None
                if self._client is None:  # reopen() keeps the client and only renews the token
                    key = self.api_key()
                    try:
                        self._client = api.SortedProClient(base_url, key, timeouts=self.settings.timeouts,
                                                           max_connections=self.settings.max_parallel * 2 + 4,  # scans + follow-ups + misc
                                                           proxy=self.settings.proxy)
                    except api.ProxyConfigurationError as exc:  # an unusable proxy: like an unusable address
                        raise DeskNotReady(exc.message, OutcomeKind.UNREACHABLE) from None
                    except api.ConfigurationError as exc:  # e.g. a key with spaces from DESPATCH_DESK_API_KEY
                        raise DeskNotReady(exc.message) from None
                self._workflow = AllocationWorkflow(self._client, self._policy(), closing=self.closing)
            return self._workflow

    def _policy(self) -> RetryPolicy:
        """The retry policy with the desk's scan deadline (a setting, when the settings have it)."""
        deadline = getattr(self.settings, "scan_deadline_s", None)
        if isinstance(deadline, (int, float)) and deadline > 0 and self.policy.scan_deadline_s == _DEFAULT_DEADLINE_S:
            return replace(self.policy, scan_deadline_s=float(deadline))
        return self.policy

    def client(self) -> api.SortedProClient:
        return self.workflow().client

    # ------------------------------------------------------------------ the scan path
    def allocate(self, raw_scan: str, group: str, *, cancel: CancelToken | None = None,
                 prior_attempt: bool | None = None, batch_id: str | None = None) -> Outcome:
        """Allocate one scan and record it. Never raises for anything an operator can cause.

        ``cancel``: the scan's token (the GUI makes one per scan from :attr:`closing`); None means a
        child of :attr:`closing`. Either way the scan deadline applies. ``prior_attempt``: an earlier
        attempt on this reference may have been sent (look first); the history is asked as well.

        A per-reference lock file is held for the whole scan, so two desks on this machine never
        allocate one consignment at once; a desk that had to wait for it looks before it sends."""
        try:
            reference: str | None = parse_reference(raw_scan).reference
        except InvalidReference:
            reference = None
        problem = self.environment_problem
        if problem and reference is not None:  # a damaged settings file: never guess production or sandbox
            return Outcome(OutcomeKind.NOT_RECORDED, reference, group, f"{problem} Nothing was sent.",
                           raw_scan=raw_scan)
        token = (cancel or self.closing).child(timeout=self._policy().scan_deadline_s)
        if reference is None:  # refused on the spot: no network, no lock
            return self._allocate_recorded(raw_scan, None, group, token, False, None, batch_id)
        try:
            with ReferenceLock(self.paths.data_dir / "locks", reference, token) as lock:
                if not lock.acquired:
                    return self._lock_not_acquired(raw_scan, reference, group, token)
                # an undo in doubt is not an earlier allocation attempt (its verdict is not this scan's)
                earlier = [r for r in self._unresolved(reference) if r.action != undo.ACTION]
                prior = bool(prior_attempt) or bool(earlier) or lock.waited
                prior_sent_at = max((r.started_at for r in earlier if r.started_at), default=None)
                outcome = self._allocate_recorded(raw_scan, reference, group, token, prior, prior_sent_at, batch_id)
                self._resolve_earlier(earlier, outcome)
                return outcome
        except OSError as exc:  # the lock file cannot be made: the data folder is not writable
            return Outcome(OutcomeKind.NOT_RECORDED, reference, group,
                           f"The desk's data folder cannot be written ({exc.strerror or exc}): nothing was sent. "
                           "Fix the disk, then scan again.", raw_scan=raw_scan)

    def _allocate_recorded(self, raw_scan: str, reference: str | None, group: str, token: CancelToken,
                           prior: bool, prior_sent_at: datetime | None, batch_id: str | None = None) -> Outcome:
        """Record, then send: the pending row first; if it cannot be written nothing is sent."""
        try:
            row_id = self._begin(raw_scan, reference, group, batch_id=batch_id)
        except HistoryError as exc:
            return Outcome(OutcomeKind.NOT_RECORDED, reference, group,
                           f"The scan history cannot be written ({exc}): nothing was sent. "
                           "Fix the disk, then scan again.", raw_scan=raw_scan)
        try:
            outcome = self.workflow().allocate(raw_scan, group, cancel=token, prior_attempt=prior,
                                               prior_sent_at=prior_sent_at)
        except DeskNotReady as exc:
            outcome = Outcome(exc.kind, reference, group, exc.message, raw_scan=raw_scan)
        except Exception as exc:  # a bug must not lose the scan: it is kept as in doubt
            log.exception("allocation of %r crashed", reference)
            kind = OutcomeKind.IN_DOUBT if reference else OutcomeKind.INVALID_REFERENCE
            outcome = Outcome(kind, reference, group,
                              f"An internal error stopped this scan ({type(exc).__name__}). "
                              "It is kept in the in-doubt list; check it before shipping.", raw_scan=raw_scan)
        self._finish(row_id, outcome)
        return outcome

    def _lock_not_acquired(self, raw_scan: str, reference: str, group: str, token: CancelToken) -> Outcome:
        if token.cancelled:
            outcome = Outcome(OutcomeKind.UNREACHABLE, reference, group,
                              "The desk closed before this scan was sent: nothing was allocated. Scan it again.",
                              raw_scan=raw_scan)
        else:
            outcome = Outcome(OutcomeKind.IN_DOUBT, reference, group,
                              f"Another despatch desk on this computer was still allocating {reference}, so this "
                              "scan sent nothing. Check it in the in-doubt list before shipping.", raw_scan=raw_scan)
        self.record(outcome)
        return outcome

    def _unresolved(self, reference: str) -> list[HistoryRow]:
        try:
            return self.history.unresolved_for(reference)
        except HistoryError:
            return []  # begin() will fail the same way and send nothing

    def _resolve_earlier(self, rows: list[HistoryRow], outcome: Outcome) -> None:
        """Earlier unresolved attempts on this reference, settled by what this scan's look showed."""
        if not rows or outcome.kind not in (OutcomeKind.ALLOCATED, OutcomeKind.NOT_ALLOCATED):
            return
        if outcome.kind is OutcomeKind.ALLOCATED and outcome.attempts and not outcome.recovered:
            # This scan's own PUT did it: the earlier attempts had not taken effect.
            verdict = replace(outcome, kind=OutcomeKind.NOT_ALLOCATED, recovered=False,
                              message=f"A later scan found {outcome.reference} unallocated and allocated it itself.")
        else:
            verdict = replace(outcome, message=f"Settled by a later scan: {outcome.message}")
        for row in rows:
            try:
                self.history.resolve(row.id, verdict)
            except HistoryError as exc:
                self.last_history_error = str(exc)
                log.error("history: %s", exc)

    def recheck(self, row_id: int, *, cancel: CancelToken | None = None) -> Outcome:
        """Look up an in-doubt history row on the server and record what it holds."""
        row = self.history.get(row_id)
        if row is None or not row.reference:
            raise DeskNotReady("That history entry has no consignment reference to check.", OutcomeKind.INVALID_REFERENCE)
        if row.action == undo.ACTION:
            return undo.recheck_undo(self, row, cancel=cancel)
        outcome = self.workflow().recheck(row.reference, row.group_code, cancel=cancel, sent_at=row.started_at)
        if outcome.kind is not OutcomeKind.IN_DOUBT:
            self.history.resolve(row_id, outcome)
        return outcome

    # ------------------------------------------------------------------ undo (undo.py) and details (details.py)
    def undo(self, raw_reference: str, *, include_manifested: bool = False,
             cancel: CancelToken | None = None) -> Outcome:
        """Deallocate one consignment, recorded before it is sent and linked to the allocation it undoes."""
        return undo.undo_recorded(self, raw_reference, include_manifested=include_manifested, cancel=cancel)

    def details(self, reference: str, *, cancel: CancelToken | None = None,
                row_id: int | None = None) -> "Details":
        """Price, dates and parcel facts (two looks, never a write); kept on history row ``row_id`` if given."""
        return details_mod.fetch_and_record(self, reference, cancel=cancel, row_id=row_id)

    def _begin(self, raw_scan: str, reference: str | None, group: str, **row: object) -> int:
        """Write the pending row; :class:`HistoryError` means nothing may be sent."""
        try:
            return self.history.begin(raw_scan, reference, group, workstation=self.settings.workstation,
                                      environment=self.origin, **row)
        except HistoryError as exc:
            self.last_history_error = str(exc)
            log.error("history: %s", exc)
            raise

    def _finish(self, row_id: int | None, outcome: Outcome) -> None:
        if row_id is None:
            return
        try:
            self.history.finish(row_id, outcome)
        except HistoryError as exc:
            self.last_history_error = str(exc)
            log.error("history: %s", exc)

    # ------------------------------------------------------------------ groups
    def fetch_groups(self) -> list[api.ServiceGroup]:
        """Groups from the account; raises :class:`api.ApiError` when the API refuses."""
        return self.client().list_service_groups()

    # ------------------------------------------------------------------ lifecycle
    @property
    def stop_event(self) -> _StopEventView:
        """Compatibility for callers written against the old Event: acts on :attr:`closing`."""
        return _StopEventView(self.closing)

    def stop(self) -> None:
        """End every wait of every running scan (backoff, 429, polls, socket reads) within a slice."""
        self.closing.cancel("the desk is closing")

    def reopen(self) -> None:
        """A fresh closing token, so the desk works again after :meth:`stop` (a cancelled batch, tests)."""
        with self._lock:
            self.closing = CancelToken()
            self._workflow = None  # the next scan builds a workflow on the new token

    def close(self) -> None:
        self.stop()
        with self._lock:
            client, self._client, self._workflow = self._client, None, None
            history, self._history = self._history, None
        if client is not None:
            client.close()
        if history is not None:
            history.close()
