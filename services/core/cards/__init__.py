"""Cards: the items that move through a product's statuses, with custom fields and history."""
