"""Settings dialog: a real Desk (tmp folders, in-memory keyring) and the real sandbox over loopback."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402

import keyring.backend  # noqa: E402
import keyring.errors  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QComboBox,
    QDialog,
    QLabel,
    QLineEdit,
    QTabWidget,
    QWidget,
)

from despatch_desk import api  # noqa: E402
from despatch_desk.credentials import SERVICE, KeyStore  # noqa: E402
from despatch_desk.desk import Desk  # noqa: E402
from despatch_desk.gui import jobs  # noqa: E402
from despatch_desk.gui.settings_dialog import GROUPS_REFUSED, SettingsDialog  # noqa: E402
from despatch_desk.settings import Paths, ServiceGroupConfig, Settings, SettingsStore  # noqa: E402

from gui_support import closed_port  # noqa: E402
from support import MemoryKeyring as MemoryBackend  # noqa: E402

KEY = "k3y-For-Tests-0123456789abcdef"


class LockedBackend(MemoryBackend):
    """A keyring that is locked: every call fails the way Secret Service does when the user cancels unlock."""

    def get_password(self, service, username):
        raise keyring.errors.KeyringLocked("collection is locked")

    def set_password(self, service, username, password):
        raise keyring.errors.KeyringLocked("collection is locked")


@pytest.fixture
def tmp_paths(tmp_path) -> Paths:
    return Paths(tmp_path / "config", tmp_path / "data", tmp_path / "logs")


@pytest.fixture
def make_desk(tmp_paths, qtbot):
    desks: list[Desk] = []

    def factory(backend=None, **settings_kw) -> Desk:
        settings = Settings(workstation="bench-1", connect_timeout_s=2.0, read_timeout_s=5.0, **settings_kw)
        desk = Desk(tmp_paths, settings=settings, keystore=KeyStore(backend=backend or MemoryBackend()))
        desks.append(desk)
        return desk

    yield factory
    qtbot.waitUntil(lambda: jobs.active_jobs() == 0, timeout=15000)
    for desk in desks:
        desk.close()


@pytest.fixture
def open_dialog(qtbot):
    def factory(desk: Desk) -> SettingsDialog:
        dialog = SettingsDialog(desk)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        wait_key_status(qtbot, dialog)
        return dialog

    return factory


def wait_key_status(qtbot, dialog: SettingsDialog) -> None:
    qtbot.waitUntil(lambda: "Checking" not in dialog.key_status_label.text(), timeout=5000)


def choose_custom(qtbot, dialog: SettingsDialog, url: str) -> None:
    dialog.set_environment("custom")
    dialog.custom_url_edit.clear()
    qtbot.keyClicks(dialog.custom_url_edit, url)
    dialog.refresh_key_status()
    wait_key_status(qtbot, dialog)


def all_texts(widget: QWidget) -> list[str]:
    """Every string the dialog shows or exposes (what a screenshot or screen reader could reveal)."""
    texts = [widget.windowTitle()]
    for child in [widget, *widget.findChildren(QWidget)]:
        texts += [child.toolTip(), child.accessibleName(), child.accessibleDescription(), child.whatsThis()]
        if isinstance(child, QLineEdit):
            texts += [child.displayText(), child.placeholderText()]
        if isinstance(child, (QLabel, QAbstractButton)):
            texts.append(child.text())
        if isinstance(child, QComboBox):
            texts += [child.itemText(i) for i in range(child.count())]
    return texts


# ---------------------------------------------------------------------------------------------- round trip
def test_settings_round_trip_through_the_form(qtbot, make_desk, open_dialog, tmp_paths):
    desk = make_desk(service_groups=[ServiceGroupConfig("nextDay", "Next day")])
    held = desk.settings
    dialog = open_dialog(desk)

    dialog.set_environment("sandbox")
    dialog.tabs.setCurrentIndex(1)
    dialog.add_group()  # opens the editor on the new code cell
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit) and dialog.groups_table.isAncestorOf(editor)
    qtbot.keyClicks(editor, "economy")
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # commits (queued by the delegate), does not save
    qtbot.waitUntil(lambda: dialog.groups_table.state() != QAbstractItemView.State.EditingState, timeout=2000)
    assert dialog.isVisible() and dialog.groups()[1].code == "economy"
    dialog.groups_table.item(1, 1).setText("Economy 2-3 day")
    dialog.groups_table.setCurrentCell(1, 0)
    dialog.move_group(-1)  # economy first
    dialog.tabs.setCurrentIndex(2)
    dialog.workstation_edit.clear()
    qtbot.keyClicks(dialog.workstation_edit, "packing-bench-7")
    dialog.sounds_check.setChecked(False)
    dialog.parallel_spin.setValue(6)
    dialog.read_timeout_spin.setValue(45)

    with qtbot.waitSignal(dialog.settings_changed, timeout=2000):
        qtbot.keyClick(dialog.workstation_edit, Qt.Key.Key_Return)  # Enter = the default button (Save)
    assert dialog.result() == QDialog.DialogCode.Accepted

    loaded = SettingsStore(tmp_paths).load()
    assert loaded.environment == "sandbox"
    assert [(g.code, g.name) for g in loaded.service_groups] == [("economy", "Economy 2-3 day"), ("nextDay", "Next day")]
    assert loaded.workstation == "packing-bench-7"
    assert loaded.sounds is False and loaded.max_parallel == 6 and loaded.read_timeout_s == 45
    assert desk.settings is held and held.workstation == "packing-bench-7"  # updated in place
    assert desk.base_url == api.SANDBOX_URL


def test_invalid_custom_url_is_refused_inline(qtbot, make_desk, open_dialog, tmp_paths):
    desk = make_desk()
    dialog = open_dialog(desk)
    assert not dialog.custom_url_edit.isEnabled()
    dialog.set_environment("custom")
    assert dialog.custom_url_edit.isEnabled()
    assert "Enter the address" in dialog.url_error_label.text()

    qtbot.keyClicks(dialog.custom_url_edit, "ftp://api.example.com")
    assert dialog.url_error_label.isVisible()
    assert "not a web address" in dialog.url_error_label.text()
    dialog.custom_url_edit.setText("http://api.example.com")
    assert "plain http" in dialog.url_error_label.text()
    assert dialog.save() is False
    assert "Not saved" in dialog.message_label.text()
    assert not tmp_paths.settings_file.exists()
    assert dialog.isVisible()

    dialog.custom_url_edit.setText("https://api.example.com/")
    assert not dialog.url_error_label.isVisible()
    assert dialog.save() is True
    assert SettingsStore(tmp_paths).load().custom_url == "https://api.example.com/"
    assert desk.base_url == "https://api.example.com"


def test_duplicate_and_bad_group_codes_are_refused(qtbot, make_desk, open_dialog, tmp_paths):
    desk = make_desk(service_groups=[ServiceGroupConfig("nextDay", "Next day")])
    dialog = open_dialog(desk)
    row = dialog.add_group()
    dialog.groups_table.item(row, 0).setText("nextDay")
    assert "same code: nextDay" in dialog.problems_label.text()
    assert dialog.save() is False
    assert not tmp_paths.settings_file.exists()

    dialog.groups_table.item(row, 0).setText("next day?")
    assert "must be one word" in dialog.problems_label.text()
    dialog.groups_table.item(row, 0).setText("")
    dialog.groups_table.item(row, 1).setText("Nameless")
    assert "'Nameless' has no code" in dialog.problems_label.text()
    dialog.groups_table.item(row, 1).setText("")  # a blank row is simply dropped
    assert not dialog.problems_label.isVisible()
    assert dialog.save() is True
    assert [g.code for g in SettingsStore(tmp_paths).load().service_groups] == ["nextDay"]


def test_group_buttons_edit_remove_move(qtbot, make_desk, open_dialog):
    desk = make_desk(service_groups=[ServiceGroupConfig(c, c.title()) for c in ("a1", "b2", "c3")])
    dialog = open_dialog(desk)
    dialog.groups_table.setCurrentCell(0, 0)
    assert not dialog.up_button.isEnabled() and dialog.down_button.isEnabled()
    qtbot.mouseClick(dialog.down_button, Qt.MouseButton.LeftButton)
    assert [g.code for g in dialog.groups()] == ["b2", "a1", "c3"]
    qtbot.mouseClick(dialog.remove_group_button, Qt.MouseButton.LeftButton)
    assert [g.code for g in dialog.groups()] == ["b2", "c3"]
    dialog.groups_table.setCurrentCell(0, 1)
    qtbot.mouseClick(dialog.edit_group_button, Qt.MouseButton.LeftButton)
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit)
    editor.selectAll()
    qtbot.keyClicks(editor, "Renamed")
    # Ctrl+Enter while still typing in the cell: the edit is kept and the dialog saves.
    with qtbot.waitSignal(dialog.settings_changed, timeout=2000):
        qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert [(g.code, g.name) for g in desk.settings.service_groups] == [("b2", "Renamed"), ("c3", "C3")]


# ---------------------------------------------------------------------------------------------- the key
def test_key_is_stored_under_the_origin_and_never_shown(qtbot, make_desk, open_dialog, tmp_paths, caplog):
    caplog.set_level("DEBUG")
    backend = MemoryBackend()
    desk = make_desk(backend=backend)
    dialog = open_dialog(desk)
    assert "No key stored for https://api.electioapp.com" in dialog.key_status_label.text()
    assert not dialog.remove_key_button.isEnabled()

    dialog.set_environment("sandbox")
    wait_key_status(qtbot, dialog)
    qtbot.keyClicks(dialog.key_edit, f"  {KEY}  ")
    assert dialog.key_edit.echoMode() == QLineEdit.EchoMode.Password
    assert KEY not in " ".join(all_texts(dialog))
    assert dialog.key_edit.contextMenuPolicy() == Qt.ContextMenuPolicy.NoContextMenu
    assert dialog.save() is True

    assert backend.secrets == {(SERVICE, "https://apisandbox.electioapp.com"): KEY}
    assert dialog.key_edit.text() == ""
    assert KEY not in tmp_paths.settings_file.read_text()
    assert KEY not in caplog.text

    again = open_dialog(desk)
    assert again.key_edit.text() == ""  # never pre-filled
    assert re.search(r"A key is stored in the keyring \(.*\) for https://apisandbox\.electioapp\.com",
                     again.key_status_label.text())
    assert again.remove_key_button.isEnabled()
    assert KEY not in " ".join(all_texts(again))
    # Switching environment shows the other origin's state.
    again.set_environment("production")
    wait_key_status(qtbot, again)
    assert "No key stored for https://api.electioapp.com" in again.key_status_label.text()


def test_remove_stored_key(qtbot, make_desk, open_dialog, monkeypatch):
    backend = MemoryBackend()
    backend.secrets[(SERVICE, "https://api.electioapp.com")] = KEY
    desk = make_desk(backend=backend)
    dialog = open_dialog(desk)
    assert dialog.remove_key_button.isEnabled()
    monkeypatch.setattr(dialog, "_confirm", lambda title, text: True)
    with qtbot.waitSignal(dialog.settings_changed, timeout=2000):
        qtbot.mouseClick(dialog.remove_key_button, Qt.MouseButton.LeftButton)
    assert backend.secrets == {}
    wait_key_status(qtbot, dialog)
    assert "No key stored" in dialog.key_status_label.text()


def test_bad_key_format_is_refused_before_saving(qtbot, make_desk, open_dialog, tmp_paths):
    desk = make_desk()
    dialog = open_dialog(desk)
    qtbot.keyClicks(dialog.key_edit, "two words")
    assert "spaces or control characters" in dialog.problems_label.text()
    assert dialog.save() is False
    assert not tmp_paths.settings_file.exists()


@pytest.mark.parametrize("backend_kind", ["locked", "fail"])
def test_keyring_failure_is_plain_and_settings_are_still_saved(qtbot, make_desk, open_dialog, tmp_paths,
                                                               backend_kind):
    if backend_kind == "locked":
        backend, words = LockedBackend(), "keyring is locked"
    else:
        import keyring.backends.fail

        backend, words = keyring.backends.fail.Keyring(), "no secure key storage"
    desk = make_desk(backend=backend)
    dialog = open_dialog(desk)
    assert words in dialog.key_status_label.text()  # said at once, before anyone types a key

    dialog.workstation_edit.setText("bench-locked")
    qtbot.keyClicks(dialog.key_edit, KEY)
    with qtbot.waitSignal(dialog.settings_changed, timeout=2000):
        assert dialog.save() is False
    assert "Settings saved, but the API key was not" in dialog.message_label.text()
    assert words in dialog.message_label.text()
    assert KEY not in dialog.message_label.text()
    assert dialog.isVisible()                       # stays open to fix the keyring and try again
    assert dialog.key_edit.text() == KEY            # nothing lost
    assert SettingsStore(tmp_paths).load().workstation == "bench-locked"
    assert desk.settings.workstation == "bench-locked"


def test_settings_file_error_keeps_the_dialog_open(qtbot, make_desk, open_dialog, tmp_paths):
    desk = make_desk()
    tmp_paths.config_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp_paths.config_dir.write_text("not a folder")  # the settings file cannot be written
    dialog = open_dialog(desk)
    dialog.workstation_edit.setText("bench-9")
    assert dialog.save() is False
    assert "Not saved: Could not save settings" in dialog.message_label.text()
    assert dialog.isVisible() and dialog.workstation_edit.text() == "bench-9"
    assert desk.settings.workstation == "bench-1"


def test_environment_variable_override_is_shown(qtbot, make_desk, open_dialog, monkeypatch):
    monkeypatch.setenv("DESPATCH_DESK_API_URL", "http://127.0.0.1:9")
    desk = make_desk()
    dialog = open_dialog(desk)
    assert dialog.override_label.isVisible()
    assert "DESPATCH_DESK_API_URL is set" in dialog.override_label.text()
    assert "http://127.0.0.1:9" in dialog.key_status_label.text()  # the key that matters is that origin's


# ---------------------------------------------------------------------------------------------- test connection
def test_connection_success_does_not_block(qtbot, make_desk, open_dialog, sandbox):
    from despatch_desk.sandbox import DEMO_API_KEY

    sandbox.latency_ms = 300
    desk = make_desk()
    dialog = open_dialog(desk)
    choose_custom(qtbot, dialog, sandbox.url)
    qtbot.keyClicks(dialog.key_edit, DEMO_API_KEY)
    started = time.perf_counter()
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    assert time.perf_counter() - started < 0.2   # the click returned long before the server answered
    assert not dialog.test_button.isEnabled()
    assert dialog.test_result_label.text().startswith("… Connecting to")
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=5000)
    assert re.match(r"✓ Connected to http://127\.0\.0\.1:\d+: \d+ carrier services\.", dialog.test_result_label.text())
    assert dialog.test_result_label.property("tone") == "ok"
    assert DEMO_API_KEY not in " ".join(all_texts(dialog))


def test_connection_uses_the_stored_key(qtbot, make_desk, open_dialog, sandbox):
    from despatch_desk.sandbox import DEMO_API_KEY

    backend = MemoryBackend()
    backend.secrets[(SERVICE, api.api_origin(sandbox.url))] = DEMO_API_KEY
    desk = make_desk(backend=backend, environment="custom", custom_url=sandbox.url)
    dialog = open_dialog(desk)
    assert "A key is stored" in dialog.key_status_label.text()
    dialog.test_connection()
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=5000)
    assert "carrier services" in dialog.test_result_label.text()


def test_connection_wrong_key_is_refused_in_plain_words(qtbot, make_desk, open_dialog, sandbox):
    desk = make_desk()
    dialog = open_dialog(desk)
    choose_custom(qtbot, dialog, sandbox.url)
    qtbot.keyClicks(dialog.key_edit, "not-the-right-key")
    dialog.test_connection()
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=5000)
    assert "SortedPRO refused this API key" in dialog.test_result_label.text()
    assert dialog.test_result_label.property("tone") == "error"
    assert "not-the-right-key" not in dialog.test_result_label.text()


def test_connection_closed_port_says_could_not_connect(qtbot, make_desk, open_dialog):
    desk = make_desk()
    dialog = open_dialog(desk)
    choose_custom(qtbot, dialog, f"http://127.0.0.1:{closed_port()}")
    qtbot.keyClicks(dialog.key_edit, KEY)
    dialog.test_connection()
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=8000)
    assert dialog.test_result_label.text().startswith("✕ Could not connect to http://127.0.0.1:")
    assert KEY not in dialog.test_result_label.text()


def test_connection_without_any_key_says_so(qtbot, make_desk, open_dialog):
    desk = make_desk()
    dialog = open_dialog(desk)
    dialog.test_connection()
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=3000)
    assert "No API key is stored for https://api.electioapp.com" in dialog.test_result_label.text()


def test_closing_while_the_test_runs(qtbot, make_desk, sandbox):
    from despatch_desk.sandbox import DEMO_API_KEY

    sandbox.latency_ms = 400
    desk = make_desk(environment="custom", custom_url=sandbox.url)
    dialog = SettingsDialog(desk)
    dialog.show()
    dialog.key_edit.setText(DEMO_API_KEY)
    dialog.test_connection()
    dialog.fetch_groups()
    assert jobs.active_jobs() >= 2
    dialog.reject()
    dialog.deleteLater()
    QApplication.sendPostedEvents(None, 0)
    qtbot.waitUntil(lambda: jobs.active_jobs() == 0, timeout=5000)  # answers arrive, nothing crashes


# ---------------------------------------------------------------------------------------------- fetch groups
def test_fetch_groups_merges_into_the_list(qtbot, make_desk, open_dialog, sandbox):
    from despatch_desk.sandbox import DEMO_API_KEY

    desk = make_desk(environment="custom", custom_url=sandbox.url,
                     service_groups=[ServiceGroupConfig("mine", "Local only"), ServiceGroupConfig("nextDay", "old")])
    dialog = open_dialog(desk)
    dialog.key_edit.setText(DEMO_API_KEY)
    dialog.tabs.setCurrentIndex(1)
    qtbot.mouseClick(dialog.fetch_button, Qt.MouseButton.LeftButton)
    assert not dialog.fetch_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.fetch_button.isEnabled(), timeout=5000)
    groups = [(g.code, g.name) for g in dialog.groups()]
    assert groups[:2] == [("mine", "Local only"), ("nextDay", "Next day")]  # order kept, name updated
    codes = [c for c, _ in groups]
    assert {"economy", "international", "valuableGoods", "heavy"} <= set(codes)
    assert len(codes) == len(set(codes))
    assert "added" in dialog.fetch_result_label.text()
    assert dialog.save() is True
    assert len(desk.settings.service_groups) == len(groups)


def test_fetch_groups_forbidden_says_add_them_by_hand(qtbot, make_desk, open_dialog, sandbox):
    from despatch_desk.sandbox import DEMO_API_KEY, Fault

    sandbox.add_fault(Fault("servicegroups-forbidden"))
    backend = MemoryBackend()
    backend.secrets[(SERVICE, api.api_origin(sandbox.url))] = DEMO_API_KEY
    desk = make_desk(backend=backend, environment="custom", custom_url=sandbox.url,
                     service_groups=[ServiceGroupConfig("nextDay", "Next day")])
    dialog = open_dialog(desk)
    dialog.fetch_groups()
    qtbot.waitUntil(lambda: dialog.fetch_button.isEnabled(), timeout=5000)
    assert GROUPS_REFUSED in dialog.fetch_result_label.text()
    assert [g.code for g in dialog.groups()] == ["nextDay"]  # the hand-made list is untouched


# ---------------------------------------------------------------------------------------------- keyboard
def test_keyboard_mnemonics_names_and_escape(qtbot, make_desk, open_dialog, tmp_paths):
    desk = make_desk()
    dialog = open_dialog(desk)
    mnemonics: list[str] = []
    for child in dialog.findChildren(QWidget):
        texts = []
        if isinstance(child, (QLabel, QAbstractButton)):
            texts.append(child.text())
        if isinstance(child, QTabWidget):
            texts += [child.tabText(i) for i in range(child.count())]
        for text in texts:
            mnemonics += [m.lower() for m in re.findall(r"&(\w)", text)]
    assert len(mnemonics) == len(set(mnemonics)), mnemonics
    assert len(mnemonics) >= 18

    inputs = [dialog.environment_combo, dialog.custom_url_edit, dialog.key_edit, dialog.remove_key_button,
              dialog.test_button, dialog.groups_table, dialog.add_group_button, dialog.fetch_button,
              dialog.workstation_edit, dialog.sounds_check, dialog.connect_timeout_spin, dialog.read_timeout_spin,
              dialog.parallel_spin, dialog.save_button, dialog.cancel_button]
    for widget in inputs:
        assert widget.accessibleName(), widget
        assert widget.focusPolicy() & Qt.FocusPolicy.TabFocus, widget
    assert not dialog.groups_table.tabKeyNavigation()

    # Alt+G goes to the groups page, Alt+W to the workstation field.
    qtbot.keyClick(dialog, Qt.Key.Key_G, Qt.KeyboardModifier.AltModifier)
    assert dialog.tabs.currentIndex() == 1
    dialog.workstation_edit.setText("changed")
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible() and dialog.result() == QDialog.DialogCode.Rejected
    assert not tmp_paths.settings_file.exists()
    assert desk.settings.workstation == "bench-1"


def test_large_scale_layout_fits(qtbot, make_desk, open_dialog):
    """At any font size the dialog's minimum size holds every field (labels wrap instead of clipping)."""
    desk = make_desk(service_groups=[ServiceGroupConfig("valuableGoods", "Valuable goods (signed & insured)")])
    dialog = open_dialog(desk)
    font = dialog.font()
    font.setPointSizeF(font.pointSizeF() * 2)
    dialog.setFont(font)
    dialog.adjustSize()
    QApplication.processEvents()
    for widget in (dialog.key_edit, dialog.test_button, dialog.save_button):
        assert widget.width() >= widget.minimumSizeHint().width()
    assert dialog.save_button.geometry().bottom() <= dialog.height()
    json.dumps(dialog.form_settings().to_json())  # still a valid form
