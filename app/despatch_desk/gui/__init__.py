"""The Qt layer of Despatch Desk: a thin adapter over the Qt-free core (``despatch_desk.desk``).

Modules: ``app`` (QApplication, logging, single instance, demo mode), ``main_window`` (the operator
window and the :class:`~despatch_desk.gui.main_window.ScanDispatcher`), ``scan_field``,
``result_panel``, ``recent_scans``, ``allocation_runner`` (background jobs), ``sounds``, ``theme``
and ``selftest``. Nothing here is imported by the core.
"""
