"""Reusable widgets of the operator window (no controller logic: they show what they are given)."""
