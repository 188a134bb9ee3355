"""A card's files: uploaded through the API or the web page, or an e-mail's attachments.

The bytes are kept once per content (by SHA-256) in a ``FileStorage`` (``storage.py``; a plugin
may replace it), the rows in ``card_files``; ``service.py`` holds the rules (docs/files.md).
"""
