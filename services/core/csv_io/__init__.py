"""CSV import and export of a product's cards and of contacts (API, command line)."""
