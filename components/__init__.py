"""Reusable UI pieces and pure figure builders (data in through arguments only)."""
