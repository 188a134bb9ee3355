"""What the two sidecar services share: talking to core over HTTP and following its feed.

The sidecars (calendar sync, notifications) never read core's tables. They ask core who owns
a bearer token (``GET /api/v1/me``, cached briefly), read its API with the user's token, and
follow its event feed with a service token, keeping their cursor in their own database.
"""
