"""Errors of card e-mails."""

from __future__ import annotations

from cardcrm.common.errors import CardcrmError
from cardcrm.common.translate import gettext as _
from cardcrm.common.translate import lazy_gettext as _l


class MessageTooLarge(CardcrmError):
    status = 413
    title = _l("Message too large")

    def __init__(self, limit: int) -> None:
        megabytes = limit // (1024 * 1024)
        super().__init__(
            _("A message may be at most %(mb)s MB (CARDCRM_MAIL_MAX_MB).", mb=megabytes)
        )
