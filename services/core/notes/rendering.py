"""Markdown to safe HTML: markdown-it-py renders, nh3 (ammonia) keeps only an allow-list.

markdown-it-py runs its CommonMark preset with raw HTML off (``<script>`` in a note is shown as
text), plus tables and strikethrough. Images are off: a note that shows a picture from another
server tells that server who reads the card and when (files belong on the card itself). nh3
then keeps only the tags and attributes below, only http, https and mailto links, and gives
every link ``rel="noopener noreferrer nofollow"``: a second line of defence should the parser
ever let something through.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

from ..textsearch import fold

TAGS = frozenset(
    {
        "a", "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote",
        "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
        "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"style"}, "td": {"style"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"

_parser = (
    MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    .enable(["table", "strikethrough"])
    .disable("image")
)


def render(body: str) -> str:
    """The note's HTML: ``body`` rendered as Markdown, then sanitised."""
    return nh3.clean(
        _parser.render(body),
        tags=set(TAGS),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        # Table cells may keep their alignment and nothing else.
        filter_style_properties={"text-align"},
        strip_comments=True,
    )


def search_text(body: str) -> str:
    """What the card list's ``q`` finds a note by: its text folded."""
    return fold(body)
