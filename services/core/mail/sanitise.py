"""HTML of e-mails made safe to show: nh3 keeps harmless markup and drops the rest.

Scripts, event handlers, ``javascript:`` links, forms, frames and styles go; links get
``rel="noopener noreferrer nofollow"``. Kept local to mail for now (notes have their own);
the two are one rule and may become one module.
"""

from __future__ import annotations

import nh3

#: Elements whose content is dropped with them (not shown as text).
_CLEAN_CONTENT = {"script", "style", "title", "head", "noscript", "template"}


def sanitise_html(html: str) -> str:
    return nh3.clean(html, clean_content_tags=_CLEAN_CONTENT)
