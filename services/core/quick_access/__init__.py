"""Quick access beside the Today view: favourite filters, recent cards, Wall of Progress."""
