"""Two-way sync with CalDAV accounts: ``sync.CalDAVSync`` runs the rounds, composed of
``pull.Pulling`` and ``push.Pushing``, which share ``base.CalDAVBase``."""
