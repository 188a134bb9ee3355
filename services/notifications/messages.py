"""What notifications say: a title, plain text and HTML with a link, per rule.

Composed when a delivery is sent, in the recipient's language (their core profile's, else
``CARDCRM_DEFAULT_LANGUAGE``) and time zone, from the event the notification keeps and the
names ``Directory`` finds. In-app inbox items are composed the same way, once, when the
notification is delivered to the inbox: their words need core's answers of that moment (who
acted, the status names), which reading the inbox later could no longer give.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from html import escape
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_date, format_datetime
from cardcrm.common.text import printable
from cardcrm.sidecar.speech import Speaker
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .channels.base import Content
from .deliveries.models import Notification
from .directory import Directory
from .links import Links
from .preferences.effective import UserPreferences

GROUPS = {
    "inactive": _l("Inactive"),
    "in_progress": _l("In progress"),
    "positive": _l("Positive"),
    "negative": _l("Negative"),
}
#: How many tasks a digest lists before "and N more".
DIGEST_LIST_LIMIT = 50
FOOTER = _l("You get this because of your notification settings in cardcrm.")


class Composer:
    def __init__(self, directory: Directory, links: Links, speaker: Speaker) -> None:
        self.directory = directory
        self.links = links
        self.speaker = speaker

    def compose(self, notification: Notification, preferences: UserPreferences) -> Content:
        zone = self._zone(preferences)
        rules: dict[str, Callable[[Notification, ZoneInfo], Content]] = {
            "assigned": self._assigned,
            "status_changed": self._status_changed,
            "mentioned": self._mentioned,
            "due_reminder": self._due_reminder,
            "daily_digest": self._daily_digest,
        }
        language = self.speaker.language_of(self.directory.person(notification.user_id))
        with self.speaker.speaking(language):
            return rules.get(notification.rule, self._other)(notification, zone)

    # --- one method per rule ----------------------------------------------------------------

    def _assigned(self, notification: Notification, zone: ZoneInfo) -> Content:
        event = notification.payload
        task = event["data"]
        who = self.directory.name(event.get("actor_id"))
        card = self.directory.card_title(task.get("card_id"))
        text = task.get("text", "")
        return page(
            _("%(who)s assigned you a task: %(task)s", who=who, task=text),
            [
                _(
                    "%(who)s assigned you the task “%(task)s” on %(card)s.",
                    who=who,
                    task=text,
                    card=card,
                ),
                _("Due: %(deadline)s.", deadline=deadline(task, zone)),
            ],
            self.links.card(task["card_id"]),
            _("Open the card"),
        )

    def _status_changed(self, notification: Notification, zone: ZoneInfo) -> Content:
        event = notification.payload
        card = event["data"]
        before = card.get("before") or {}
        who = self.directory.name(event.get("actor_id"))
        viewer = notification.user_id
        product = card.get("product_id")
        old = self.directory.status_name(viewer, product, before.get("status_id"))
        new = self.directory.status_name(viewer, product, card.get("status_id"))
        old = old or str(GROUPS.get(str(before.get("status_group")), _("another status")))
        new = new or str(GROUPS.get(str(card.get("status_group")), _("a new status")))
        group = str(GROUPS.get(str(card.get("status_group")), ""))
        title = card.get("title", "")
        if group and group != new:
            sentence = _(
                "%(who)s moved your card “%(card)s” from %(old)s to %(new)s (%(group)s).",
                who=who,
                card=title,
                old=old,
                new=new,
                group=group.lower(),
            )
        else:
            sentence = _(
                "%(who)s moved your card “%(card)s” from %(old)s to %(new)s.",
                who=who,
                card=title,
                old=old,
                new=new,
            )
        return page(
            _("%(card)s moved to %(status)s", card=title, status=new),
            [sentence],
            self.links.card(card["id"]),
            _("Open the card"),
        )

    def _mentioned(self, notification: Notification, zone: ZoneInfo) -> Content:
        event = notification.payload
        note = event["data"]
        who = self.directory.name(event.get("actor_id") or note.get("author_id"))
        card = self.directory.card_title(note.get("card_id"))
        text = note_text(note)
        return page(
            _("%(who)s mentioned you on “%(card)s”", who=who, card=card),
            [
                _("%(who)s mentioned you in a note on “%(card)s”:", who=who, card=card),
                *(text.split("\n\n") if text else []),
            ],
            self.links.card(note["card_id"]),
            _("Open the card"),
        )

    def _due_reminder(self, notification: Notification, zone: ZoneInfo) -> Content:
        task = notification.payload["data"]
        card = self.directory.card_title(task.get("card_id"))
        text = task.get("text", "")
        return page(
            _("Due %(when)s: %(task)s", when=short_deadline(task, zone), task=text),
            [
                _(
                    "Your task “%(task)s” on %(card)s is due %(deadline)s.",
                    task=text,
                    card=card,
                    deadline=deadline(task, zone),
                )
            ],
            self.links.card(task["card_id"]),
            _("Open the card"),
        )

    def _daily_digest(self, notification: Notification, zone: ZoneInfo) -> Content:
        today = notification.payload["data"]
        totals = today.get("totals") or {}
        period = today.get("period") or {}
        day = date.fromisoformat(period["from"]) if period.get("from") else None
        count = {
            key: int(totals.get(key, 0) or 0) for key in ("due", "overdue", "closed", "postponed")
        }
        counts = ", ".join(
            (
                _("%(num)d due", num=count["due"]),
                _("%(num)d overdue", num=count["overdue"]),
                _("%(num)d closed", num=count["closed"]),
                _("%(num)d postponed", num=count["postponed"]),
            )
        )
        tasks = today.get("tasks") or []
        items = []
        for task in tasks[:DIGEST_LIST_LIMIT]:
            card = (task.get("card") or {}).get("title") or _(
                "card #%(id)s", id=task.get("card_id")
            )
            product = (task.get("product") or {}).get("name")
            where = f"{card} ({product})" if product else card
            parts = {
                "when": short_deadline(task, zone),
                "task": task.get("text", ""),
                "where": where,
            }
            if task.get("overdue"):
                line = _("overdue, %(when)s: %(task)s — %(where)s", **parts)
            else:
                line = _("%(when)s: %(task)s — %(where)s", **parts)
            items.append((line, self.links.card(task["card_id"]) if task.get("card_id") else None))
        more = max(len(tasks), _total_listed(totals)) - len(items)
        paragraphs = [_("Your Today view: %(counts)s.", counts=counts)]
        if not tasks:
            paragraphs.append(_("Nothing is due or overdue."))
        if more > 0:
            paragraphs.append(
                ngettext("…and %(num)d more in cardcrm.", "…and %(num)d more in cardcrm.", more)
            )
        when = format_date(day, "EEE dd MMM", locale=_locale()) if day else _("today")
        return page(
            _(
                "Your day, %(day)s: %(due)d due, %(overdue)d overdue",
                day=when,
                due=count["due"],
                overdue=count["overdue"],
            ),
            paragraphs,
            self.links.today(),
            _("Open Today"),
            items=items,
        )

    def _other(self, notification: Notification, zone: ZoneInfo) -> Content:
        event = notification.payload
        url = self.links.card(notification.card_id) if notification.card_id else None
        return page(
            str(event.get("title") or _("cardcrm: %(type)s", type=notification.type)),
            [str(event.get("text") or _("Something happened: %(type)s.", type=notification.type))],
            url,
            _("Open in cardcrm"),
        )

    def _zone(self, preferences: UserPreferences) -> ZoneInfo:
        name = preferences.timezone
        if not preferences.saved:  # no time zone kept here yet: ask core
            person = self.directory.person(preferences.user_id)
            name = (person or {}).get("timezone") or "UTC"
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")


def page(
    title: str,
    paragraphs: list[str],
    url: str | None,
    link_text: str,
    items: list[tuple[str, str | None]] | None = None,
    footer: str | None = None,
) -> Content:
    """A message as plain text and as HTML, from the same parts (``footer``: the usual one).

    Texts come from events, some stored before core refused control characters: they pass
    through ``printable`` (the one-line ones also lose their line breaks), as no e-mail may
    carry a control character."""
    footer = str(footer or FOOTER)
    title = one_line(title)
    paragraphs = [printable(paragraph) for paragraph in paragraphs]
    items = [(printable(line, one_line=True), link) for line, link in items or []]
    text_parts = [*paragraphs]
    html_parts = [f'<h2 style="font-size:18px;margin:0 0 12px">{escape(title)}</h2>']
    html_parts += [f"<p>{escape(paragraph)}</p>" for paragraph in paragraphs]
    if items:
        text_parts.append("\n".join(f"- {line}" for line, _ in items))
        html_items = "".join(
            f'<li><a href="{escape(link)}">{escape(line)}</a></li>'
            if link
            else f"<li>{escape(line)}</li>"
            for line, link in items
        )
        html_parts.append(f"<ul>{html_items}</ul>")
    if url:
        text_parts.append(f"{link_text}: {url}")
        html_parts.append(f'<p><a href="{escape(url)}">{escape(link_text)}</a></p>')
    text_parts.append(f"-- \n{footer}")
    html_parts.append(f'<p style="color:#666;font-size:12px">{escape(footer)}</p>')
    html = (
        '<!DOCTYPE html><html><body style="font-family:sans-serif;line-height:1.4">'
        + "".join(html_parts)
        + "</body></html>"
    )
    return Content(title=title, text="\n\n".join(text_parts) + "\n", html=html, url=url)


def one_line(text: str, limit: int = 200) -> str:
    """A title: no line breaks or control characters (mail headers forbid them), not too long."""
    text = " ".join(printable(text, one_line=True).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: How much of a note a mention's message quotes.
NOTE_QUOTE_LIMIT = 600


class _TextOf(HTMLParser):
    """The text of a note's (sanitised) HTML: its words, a blank line between blocks."""

    BLOCKS = frozenset({"p", "div", "li", "ul", "ol", "pre", "blockquote", "table", "tr"})
    BLOCKS |= {f"h{level}" for level in range(1, 7)}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")
        if tag == "li":
            self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def note_text(note: dict[str, Any], limit: int = NOTE_QUOTE_LIMIT) -> str:
    """A note as plain text for a message: the words of its HTML (so no Markdown signs and no
    markup), else its Markdown source; blank lines kept, at most ``limit`` characters, cut
    at a word with "…"."""
    source = note.get("html")
    if isinstance(source, str) and source.strip():
        parser = _TextOf()
        parser.feed(source)
        parser.close()
        text = "".join(parser.parts)
    else:
        text = str(note.get("body") or "")
    lines = [" ".join(line.split()) for line in printable(text).splitlines()]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.\n") + "…"


def deadline(task: dict[str, Any], zone: ZoneInfo) -> str:
    """When a task is due, as a sentence ends: "on Fri 27 Nov 2026 at 09:00 (Europe/Lisbon)"."""
    locale = _locale()
    if task.get("all_day") and task.get("due_date"):
        day = date.fromisoformat(task["due_date"])
        return _("on %(date)s (all day)", date=format_date(day, "EEE dd MMM yyyy", locale=locale))
    if not task.get("due"):
        return _("at no set time")
    due = _instant(task["due"]).astimezone(zone)
    return _(
        "on %(date)s at %(time)s (%(zone)s)",
        date=format_datetime(due, "EEE dd MMM yyyy", tzinfo=zone, locale=locale),
        time=format_datetime(due, "HH:mm", tzinfo=zone, locale=locale),
        zone=zone.key,
    )


def short_deadline(task: dict[str, Any], zone: ZoneInfo) -> str:
    locale = _locale()
    if task.get("all_day") and task.get("due_date"):
        return format_date(date.fromisoformat(task["due_date"]), "dd MMM", locale=locale)
    if not task.get("due"):
        return ""
    return format_datetime(_instant(task["due"]), "dd MMM HH:mm", tzinfo=zone, locale=locale)


def _locale() -> Locale:
    """The language being spoken (``Speaker.speaking``): day and month names follow it."""
    return get_locale() or Locale("en")


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _total_listed(totals: dict[str, Any]) -> int:
    # The Today list holds the due and overdue tasks; the first page may hold fewer.
    return int(totals.get("due", 0) or 0) + int(totals.get("overdue", 0) or 0)
