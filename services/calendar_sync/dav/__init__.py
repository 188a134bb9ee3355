"""cardcrm as a CalDAV server: each user's tasks at ``/calendar/dav/``, for the calendar apps
of phones and computers (docs/caldav-server.md)."""
