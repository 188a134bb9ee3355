"""Search across everything the caller may see: cards (title, fields and notes) and contacts."""
