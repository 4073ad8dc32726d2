"""Despatch Desk: scan a SortedPRO consignment, allocate it to a carrier service group."""

__version__ = "0.1.0"
APP_NAME = "Despatch Desk"
APP_ID = "despatch-desk"
