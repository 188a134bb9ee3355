"""Notes on a card: Markdown text with @mentions, rendered to sanitised HTML."""
