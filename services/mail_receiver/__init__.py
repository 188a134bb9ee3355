"""The mail receiver (``cardcrm serve mail``): an SMTP server that files mail onto cards.

It holds no database and knows no table: it asks core over HTTP, with a service token carrying
the scope ``mail:deliver``, whether each recipient is a live card's address, and hands core each
message to file. It can run on its own host, behind the site's mail server (docs/mail.md).
"""

from .receiver import MailReceiver, run

__all__ = ["MailReceiver", "run"]
