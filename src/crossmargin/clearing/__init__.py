"""Clearing: the event-applying state machine over the double-entry ledger."""
