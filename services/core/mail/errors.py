"""Errors of card e-mails."""

from __future__ import annotations

from cardcrm.common.errors import CardcrmError


class MessageTooLarge(CardcrmError):
    status = 413
    title = "Message too large"

    def __init__(self, limit: int) -> None:
        megabytes = limit // (1024 * 1024)
        super().__init__(f"A message may be at most {megabytes} MB (CARDCRM_MAIL_MAX_MB).")
