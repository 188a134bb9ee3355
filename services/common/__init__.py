"""Plumbing every cardcrm service shares: API declarations, errors, database, events and more."""
