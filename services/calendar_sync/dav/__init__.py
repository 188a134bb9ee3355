"""cardcrm as a CalDAV server: each user's tasks at ``/calendar/dav/``, for the calendar apps
of phones and computers (docs/caldav-server.md).

The blueprint is at ``/dav/`` of the calendar sync app. Each user has a principal
(``/dav/principals/<id>/``) and a calendar home (``/dav/calendars/<id>/``) with two collections
of the same tasks: ``tasks`` (VTODO) and ``deadlines`` (VEVENT), read from the mirror
(``store.py``). Writes go to core through ``writes.py``; who is asking is ``auth.py``'s (HTTP
Basic with app passwords, throttled by ``throttle.py``).

- ``views.py``: the blueprint, one function per HTTP method;
- ``props.py``: the properties of each kind of resource;
- ``reports.py``: calendar-query's filters;
- ``store.py``: what the collections hold, ETags and sync tokens;
- ``cache.py``: answers kept while a collection is unchanged;
- ``xml.py``: reading request bodies safely and writing multistatus answers.
"""

from .views import bp

__all__ = ["bp"]
