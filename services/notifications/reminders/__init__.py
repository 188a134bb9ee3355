"""Reminders of tasks due soon, scheduled from the event feed."""
