"""Command barcodes in the window: a ``DD:`` scan is executed here, never sent or recorded as a scan.

``ScanController.submit_scan`` hands every text with the prefix to :func:`dispatch` before anything
else. The command is parsed against the window's service groups (:mod:`despatch_desk.commands`) and
run by the handler registered for its kind. Built in: GROUP (switch, loud: the panel says
"GROUP → …" and the group tone plays), ACK (as Esc), RECHECK (the in-doubt queue), AUTOPRINT (the
setting, saved on a worker). REPRINT and UNDO are registered by their own modules with
:func:`register`; a kind with no handler is refused in plain words and does nothing.

A refused command (unknown, unset-up, no window) is shown on the panel in red until the next scan
with a failure tone; it is not a problem that stays and not an audit event (a person saw it at once,
and nothing happened to any consignment).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..commands import Command, CommandKind, UnknownCommand, caption, is_command, parse_command
from ..errors import DeskError, explain
from . import theme
from .theme import Tone

__all__ = ["CommandRefused", "CommandResult", "dispatch", "is_command", "register", "unregister", "handler_for",
           "COMMAND_DONE", "COMMAND_REFUSED"]

log = logging.getLogger("despatch_desk.gui.commands")

# Red like an invalid scan, but no "Esc: acknowledge": it goes with the next scan (the tone is played here).
COMMAND_REFUSED = replace(theme.INVALID, word="COMMAND REFUSED", short="command refused", sound=None)
# The group-change blue: a command was carried out (not a result about any consignment).
COMMAND_DONE = replace(theme.GROUP_CHANGED, word="COMMAND", short="command")


class CommandRefused(DeskError):
    """A handler could not carry the command out; ``message`` says why and that nothing was done."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What one command scan did. ``done`` False: refused, nothing happened."""

    text: str
    command: Command | None
    done: bool
    words: str


_KIND_NAMES = {CommandKind.GROUP: "Switching the service group", CommandKind.AUTOPRINT: "Auto-print",
               CommandKind.RECHECK: "Re-check", CommandKind.ACK: "Acknowledge"}
Handler = Callable[[Any, Command], str | None]   # (window, command) -> words shown (None: the handler showed them)
_HANDLERS: dict[CommandKind, Handler] = {}


def register(kind: CommandKind, handler: Handler) -> None:
    """Let ``handler(window, command)`` carry out ``kind`` (REPRINT and UNDO are registered by their modules).

    It runs in the GUI thread and must not block: network or disk work goes to ``window.runner``."""
    _HANDLERS[CommandKind(kind)] = handler


def unregister(kind: CommandKind) -> None:
    _HANDLERS.pop(CommandKind(kind), None)


def handler_for(kind: CommandKind) -> Handler | None:
    return _HANDLERS.get(CommandKind(kind))


def dispatch(controller: Any, text: str) -> CommandResult:
    """Carry out the command in ``text`` (GUI thread, never blocks). Refusals are shown, never raised."""
    window = controller.parent() if hasattr(controller, "parent") else None
    if not all(hasattr(window, name) for name in ("result_panel", "group_row", "sounds")):
        window = None  # a controller without the desk window (tests of the controller alone)
    command: Command | None = None
    try:
        if window is None:
            raise CommandRefused("Command barcodes work in the desk window only; nothing was done.")
        command = parse_command(text, groups=_window_groups(window))
        if command is None:  # is_command said yes, so this should not happen: refuse rather than guess
            raise CommandRefused("That command barcode could not be read; nothing was done.")
        handler = handler_for(command.kind)
        if handler is None:
            name = _KIND_NAMES.get(command.kind, command.kind.value.capitalize())
            raise CommandRefused(f"{name} is not set up on this desk yet; nothing was done.")
        words = handler(window, command)
        result = CommandResult(text, command, True, words or caption(command, _group_names(window)))
        if words is not None:
            _show(window, COMMAND_DONE, words)
        return result
    except (UnknownCommand, CommandRefused, DeskError) as exc:
        return _refused(window, text, command, exc.message)
    except Exception as exc:  # a handler's bug: the operator gets words, the log the traceback
        log.exception("command %r failed", text)
        return _refused(window, text, command, f"{explain(exc)} Nothing more was done.")


def _refused(window: Any, text: str, command: Command | None, words: str) -> CommandResult:
    if window is not None:
        _show(window, COMMAND_REFUSED, words)
        window.sounds.play(Tone.FAILURE.value)
    return CommandResult(text, command, False, words)


def _show(window: Any, look: theme.Look, words: str) -> None:
    """``"AUTO-PRINT ON: labels are …"``: the part before the colon is the big word, the rest the headline."""
    word, sep, rest = words.partition(": ")
    if not sep or len(word) > 24:
        word, rest = look.word, words
    window.result_panel.show_message(look, word, rest)
    window._show_problems()  # the problem stack keeps what the panel no longer shows


def _window_groups(window: Any) -> list[str]:
    combo = window.group_row.combo
    return [code for code in (combo.itemData(i) for i in range(combo.count())) if code]


def _group_names(window: Any) -> dict[str, str]:
    return {g.code: g.name or g.code for g in window.desk.settings.service_groups}


# --------------------------------------------------------------------------- built-in handlers


def _group(window: Any, command: Command) -> None:
    """Switch group: the combo's change announces it (GROUP → …, the group tone); the same group again
    is announced too, so the operator always hears that the scan was taken."""
    from . import group_sync

    combo = window.group_row.combo
    index = combo.findData(command.argument)
    if index < 0:
        raise CommandRefused(f"{command.argument} is not offered on this desk; nothing was done.")
    if index == combo.currentIndex():
        group_sync.announce_group(window)
    else:
        combo.setCurrentIndex(index)
    return None


def _ack(window: Any, _command: Command) -> None:
    window.acknowledge()
    window.statusBar().showMessage("Acknowledged (command barcode).", 4000)
    window.sounds.play(Tone.GROUP.value)
    return None


def _recheck(window: Any, _command: Command) -> str:
    window.recheck_in_doubt()
    window.sounds.play(Tone.GROUP.value)
    return "RE-CHECK: looking up every in-doubt scan at SortedPRO (nothing is sent again)."


def _autoprint(window: Any, command: Command) -> str:
    choice = command.argument or ""
    desk = window.desk
    store = desk.settings_store

    def change(settings: Any) -> None:  # worker thread: the store fsyncs
        settings.auto_print = (not settings.auto_print) if choice == "TOGGLE" else choice == "ON"

    def saved(settings: Any) -> None:
        on = bool(settings.auto_print)
        _show(window, COMMAND_DONE, f"AUTO-PRINT {'ON' if on else 'OFF'}: labels are "
                                    f"{'printed' if on else 'not printed'} after each allocation.")

    def failed(exc: BaseException) -> None:
        _show(window, COMMAND_REFUSED, f"Auto-print was not changed: {explain(exc)}")
        window.sounds.play(Tone.FAILURE.value)

    job = window.runner.run(lambda _t: store.update(change), saved, failed, receiver=window, name="autoprint")
    if job is None:
        raise CommandRefused("The desk is closing: auto-print was not changed.")
    window.sounds.play(Tone.GROUP.value)
    return "AUTO-PRINT: saving…"


register(CommandKind.GROUP, _group)
register(CommandKind.ACK, _ack)
register(CommandKind.RECHECK, _recheck)
register(CommandKind.AUTOPRINT, _autoprint)



# --------------------------------------------------------------------------- Help > Print command sheet…


def sheet_groups(settings: Any) -> list[tuple[str, str]]:
    """(code, name) of the configured service groups, in their configured order."""
    return [(g.code, g.name or g.code) for g in settings.service_groups if g.code]


def save_command_sheet(window: Any, path: str | None = None, paper: str | None = None) -> bool:
    """Ask where to save (unless ``path`` is given), then write the PDF on a worker (it fsyncs, may be slow)."""
    from PySide6.QtWidgets import QFileDialog

    from ..sheets.command_sheet import write_command_sheet

    if path is None:
        path, _filter = QFileDialog.getSaveFileName(window, "Save the command sheet", "command-sheet.pdf",
                                                    "PDF (*.pdf)")
        if not path:
            return False
    settings = window.desk.settings
    groups = sheet_groups(settings)
    paper = paper or ("Letter" if _letter_locale() else "A4")
    desk_name = getattr(settings, "workstation", "") or ""

    def done(_pages: Any) -> None:
        window.statusBar().showMessage(f"Command sheet saved: {path}. Print it and keep it at the bench.", 15000)
        window.command_sheet_saved = path

    def failed(exc: BaseException) -> None:
        window.controller.add_notice(f"The command sheet was not saved: {explain(exc)}")

    job = window.runner.run(lambda _t: write_command_sheet(path, groups=groups, paper=paper, desk_name=desk_name),
                            done, failed, receiver=window, name="command-sheet")
    return job is not None


def _letter_locale() -> bool:
    from PySide6.QtCore import QLocale

    return QLocale.system().territory() in (QLocale.Country.UnitedStates, QLocale.Country.Canada)
