"""Products (one per team process), their ordered statuses, custom fields and task types."""
