"""Tasks: the work on a card, with deadlines, postponements and recurrence."""
