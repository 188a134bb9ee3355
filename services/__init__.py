"""cardcrm: a self-hosted CRM of products, statuses, cards and tasks.

The repository folder `services/` is installed as this package; each service is a subpackage
(`cardcrm.core`, later `cardcrm.calendar_sync` and `cardcrm.notifications`).
"""

__version__ = "0.1.0"
