"""The settings dialog's service-group page: the table, fetching the account's groups, editing and order.

A mixin of :class:`~despatch_desk.gui.settings_dialog.SettingsDialog` (it uses the dialog's widgets,
``_start`` and ``_call_plan``): kept apart so each file reads as one subject.
"""

from __future__ import annotations


from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemDelegate,
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .. import api
from ..settings import ServiceGroupConfig

from .settings_text import GROUPS_REFUSED, _Masked, _unmask, set_status


class GroupsPage:
    def _build_groups_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        intro = QLabel("Service group codes are set in SortedPRO under Settings > Carrier Service Groups. "
                       "Double-click or press F2 to edit a cell.", page)
        intro.setWordWrap(True)
        layout.addWidget(intro)

        self.groups_table = QTableWidget(0, 2, page)
        self.groups_table.setHorizontalHeaderLabels(["Code", "Name"])
        self.groups_table.setAccessibleName("Service groups")
        self.groups_table.setAccessibleDescription("Code and display name of each service group, in menu order")
        self.groups_table.setTabKeyNavigation(False)  # Tab leaves the table; arrows move inside it
        self.groups_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.groups_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.groups_table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                          | QAbstractItemView.EditTrigger.EditKeyPressed
                                          | QAbstractItemView.EditTrigger.AnyKeyPressed)
        self.groups_table.verticalHeader().setVisible(False)
        header = self.groups_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)

        self.add_group_button = QPushButton("&Add", page)
        self.edit_group_button = QPushButton("Ed&it", page)
        self.remove_group_button = QPushButton("Remo&ve", page)
        self.up_button = QPushButton("Move &up", page)
        self.down_button = QPushButton("Move dow&n", page)
        buttons = QVBoxLayout()
        for button, name, slot in (
            (self.add_group_button, "Add service group", self.add_group),
            (self.edit_group_button, "Edit selected service group", self.edit_group),
            (self.remove_group_button, "Remove selected service group", self.remove_group),
            (self.up_button, "Move selected service group up", lambda: self.move_group(-1)),
            (self.down_button, "Move selected service group down", lambda: self.move_group(1)),
        ):
            button.setAccessibleName(name)
            button.setAutoDefault(False)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        buttons.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.groups_table, 1)
        row.addLayout(buttons)
        layout.addLayout(row, 1)

        self.fetch_button = QPushButton("&Fetch from account", page)
        self.fetch_button.setAccessibleName("Fetch service groups from the SortedPRO account")
        self.fetch_button.setAutoDefault(False)
        self.fetch_button.clicked.connect(self.fetch_groups)
        self.fetch_result_label = QLabel(page)
        self.fetch_result_label.setWordWrap(True)
        self.fetch_result_label.setAccessibleName("Fetch result")
        self.fetch_result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.fetch_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.fetch_result_label)
        self.groups_table.itemSelectionChanged.connect(self._update_group_buttons)
        return page

    def groups(self) -> list[ServiceGroupConfig]:
        """The table's groups in order; fully blank rows are ignored."""
        groups = []
        for row in range(self.groups_table.rowCount()):
            code, name = self._cell(row, 0).strip(), self._cell(row, 1).strip()
            if code or name:
                groups.append(ServiceGroupConfig(code, name))
        return groups

    def _cell(self, row: int, column: int) -> str:
        item = self.groups_table.item(row, column)
        return item.text() if item is not None else ""

    @Slot()
    def fetch_groups(self) -> None:
        if self._fetching:
            return
        plan = self._call_plan()
        if isinstance(plan, str):
            set_status(self.fetch_result_label, plan, "error")
            return
        base_url, origin, entered, timeouts = plan
        find_key = self._key_finder(origin, entered)
        proxy_setting = self.desk.settings.proxy  # the fetch goes the way scans go

        def fetch() -> list[api.ServiceGroup]:
            key = find_key()
            try:
                with api.SortedProClient(base_url, key, timeouts=timeouts, max_connections=2,
                                         proxy=proxy_setting) as client:
                    return client.list_service_groups()
            except api.ApiError as exc:
                raise _Masked(exc, key) from None

        self._fetching = True
        self.fetch_button.setEnabled(False)
        set_status(self.fetch_result_label, f"Asking {origin} for the account's service groups…", "busy")
        self._start(fetch, self._groups_arrived, lambda exc: self._groups_failed(exc, origin), name="fetch-groups")

    def _groups_arrived(self, groups: list[api.ServiceGroup]) -> None:
        self._fetching = False
        self.fetch_button.setEnabled(True)
        added, updated, skipped = self.merge_groups(groups)
        parts = [f"{len(groups)} service groups in the account", f"{added} added", f"{updated} renamed"]
        if skipped:
            parts.append(f"{skipped} disabled ones left out")
        set_status(self.fetch_result_label, "; ".join(parts) + ". Save to keep them.", "ok")

    def _groups_failed(self, exc: BaseException, origin: str) -> None:
        self._fetching = False
        self.fetch_button.setEnabled(True)
        inner = exc.error if isinstance(exc, _Masked) else exc
        if (isinstance(inner, api.Unauthorized) and inner.status == 403) or isinstance(inner, api.Refused):
            set_status(self.fetch_result_label, GROUPS_REFUSED, "warn")
        else:
            set_status(self.fetch_result_label, _unmask(exc, origin), "error")

    def merge_groups(self, groups: list[api.ServiceGroup]) -> tuple[int, int, int]:
        """New codes are appended, names of known codes updated, order kept. Returns (added, updated, skipped)."""
        rows = {self._cell(r, 0).strip(): r for r in range(self.groups_table.rowCount())}
        added = updated = skipped = 0
        for group in groups:
            row = rows.get(group.reference)
            if row is not None:
                if group.name and group.name != group.reference and self._cell(row, 1).strip() != group.name:
                    self.groups_table.setItem(row, 1, QTableWidgetItem(group.name))
                    updated += 1
            elif not group.enabled:
                skipped += 1
            else:
                self._append_group_row(group.reference, group.name if group.name != group.reference else "")
                rows[group.reference] = self.groups_table.rowCount() - 1
                added += 1
        self.validate()
        return added, updated, skipped

    # ------------------------------------------------------------------ groups table
    def _append_group_row(self, code: str, name: str) -> int:
        row = self.groups_table.rowCount()
        self.groups_table.insertRow(row)
        self.groups_table.setItem(row, 0, QTableWidgetItem(code))
        self.groups_table.setItem(row, 1, QTableWidgetItem(name))
        return row

    def _current_row(self) -> int:
        rows = self.groups_table.selectionModel().selectedRows()
        if rows:
            return rows[0].row()
        return self.groups_table.currentRow()

    @Slot()
    def _update_group_buttons(self) -> None:
        row = self._current_row()
        count = self.groups_table.rowCount()
        valid = 0 <= row < count
        self.edit_group_button.setEnabled(valid)
        self.remove_group_button.setEnabled(valid)
        self.up_button.setEnabled(valid and row > 0)
        self.down_button.setEnabled(valid and row < count - 1)

    @Slot()
    def add_group(self) -> int:
        row = self._append_group_row("", "")
        self.groups_table.setFocus()
        self.groups_table.setCurrentCell(row, 0)
        self.groups_table.editItem(self.groups_table.item(row, 0))
        return row

    @Slot()
    def edit_group(self) -> None:
        row = self._current_row()
        if row < 0:
            return
        column = max(self.groups_table.currentColumn(), 0)
        self.groups_table.setFocus()
        self.groups_table.setCurrentCell(row, column)
        self.groups_table.editItem(self.groups_table.item(row, column))

    @Slot()
    def remove_group(self) -> None:
        row = self._current_row()
        if row < 0:
            return
        self.groups_table.removeRow(row)
        if self.groups_table.rowCount():
            self.groups_table.setCurrentCell(min(row, self.groups_table.rowCount() - 1), 0)
        self._update_group_buttons()

    def move_group(self, delta: int) -> None:
        row = self._current_row()
        target = row + delta
        if row < 0 or not 0 <= target < self.groups_table.rowCount():
            return
        column = max(self.groups_table.currentColumn(), 0)
        self.groups_table.blockSignals(True)
        for col in range(self.groups_table.columnCount()):
            a = self.groups_table.takeItem(row, col)
            b = self.groups_table.takeItem(target, col)
            self.groups_table.setItem(row, col, b)
            self.groups_table.setItem(target, col, a)
        self.groups_table.blockSignals(False)
        self.groups_table.setCurrentCell(target, column)
        self._update_group_buttons()
        self.validate()

    # ------------------------------------------------------------------ saving
    def _commit_open_editor(self) -> None:
        """Ctrl+Enter while a cell is being typed in: keep what was typed."""
        editor = QApplication.focusWidget()
        table = self.groups_table
        if (table.state() == QAbstractItemView.State.EditingState and editor is not None
                and editor is not table and editor.parentWidget() is table.viewport()):
            table.commitData(editor)
            table.closeEditor(editor, QAbstractItemDelegate.EndEditHint.NoHint)
