"""Demo account and data, created by ``cardcrm up`` on first start (when there is no user).

The demo admin's password is never a published one: it is generated at first start, printed
once by ``cardcrm up`` and stored only as its hash. Automation (tests, CI, a scripted demo) may
choose it instead with ``CARDCRM_DEMO_PASSWORD``, read at first start only and never defaulted.
A lost demo password is replaced by making another admin:
``cardcrm user create EMAIL --name N --admin``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import timedelta

from cardcrm.common.db import get_db
from cardcrm.common.errors import ConfigurationError
from cardcrm.common.timeutil import utcnow
from flask import Flask
from sqlalchemy import select
from werkzeug.security import check_password_hash

from .auth.models import User
from .auth.service import count_users, create_user, update_user
from .cards.service import create_card, update_card
from .products.service import create_product
from .products.templates import list_templates
from .tasks.service import close_task, create_task

DEMO_EMAIL = "demo@cardcrm.example"
#: The demo password chosen by automation, for the first start only (see the module's text).
DEMO_PASSWORD_VARIABLE = "CARDCRM_DEMO_PASSWORD"
MIN_DEMO_PASSWORD_LENGTH = 12
#: The password earlier versions gave every demo: published, so never accepted again.
PUBLISHED_PASSWORDS = frozenset({"demo-password"})

CARDS = {
    "sales": ["ACME Corp: 20 licences", "Globex renewal", "Initech pilot", "Umbrella upsell"],
    "invoices": ["Invoice 2026-001 (ACME)", "Invoice 2026-002 (Globex)", "Invoice 2026-003"],
    "recruiting": ["Ana Popescu", "John Smith", "Maria Ionescu"],
    "projects": ["Website relaunch", "CRM migration", "Office move"],
}


def demo_password(env: Mapping[str, str]) -> str:
    """``CARDCRM_DEMO_PASSWORD`` when automation set one, else a new random password."""
    chosen = env.get(DEMO_PASSWORD_VARIABLE)
    if not chosen:
        return secrets.token_urlsafe(12)  # 16 characters, 96 random bits
    if chosen in PUBLISHED_PASSWORDS or len(chosen) < MIN_DEMO_PASSWORD_LENGTH:
        raise ConfigurationError(
            f"{DEMO_PASSWORD_VARIABLE} must be at least {MIN_DEMO_PASSWORD_LENGTH} characters"
            " and not a published password; leave it unset to have one generated and printed."
        )
    return chosen


def replace_published_password(app: Flask, password: str) -> bool:
    """On a later start: a demo admin an earlier version made still has the password it
    published for every demo; it gets ``password`` instead, its web sessions end and its API
    tokens are revoked (whoever used the published one is out). True when it did."""
    with app.app_context():
        session = get_db().session()
        try:
            user = session.scalar(select(User).where(User.email == DEMO_EMAIL))
            if user is None:
                return False
            for published in PUBLISHED_PASSWORDS:
                if check_password_hash(user.password_hash, published):
                    change = {"password": password, "current_password": published}
                    update_user(session, user, {**change, "revoke_tokens": True})
                    return True
            return False
        finally:
            session.close()


def seed_demo(app: Flask, password: str) -> bool:
    """Create the demo admin with ``password`` and one product per built-in template, on first
    start; False if users exist (then nothing changes and ``password`` is not used)."""
    with app.app_context():
        session = get_db().session()
        try:
            if count_users(session):
                return False
            admin = create_user(
                session,
                email=DEMO_EMAIL,
                name="Demo Admin",
                password=password,
                timezone="Europe/Bucharest",
                is_admin=True,
            )
            now = utcnow()
            templates = {template["key"]: template for template in list_templates()}
            for key, titles in CARDS.items():
                if key not in templates:
                    continue
                product = create_product(
                    session, admin, {"name": templates[key]["name"], "template": key}
                )
                for index, title in enumerate(titles):
                    fields = {"position": "Backend developer"} if key == "recruiting" else {}
                    card = create_card(
                        session,
                        admin,
                        product.id,
                        {"title": title, "owner_id": admin.id, "fields": fields},
                    )
                    task = create_task(
                        session,
                        admin,
                        card.id,
                        {
                            "text": f"Follow up: {title}",
                            # The first more than a day ago: overdue at any hour of the day
                            # in any time zone; the others 10, 30, 50... hours from now.
                            "due": now + timedelta(hours=index * 20 - 10 if index else -30),
                            "type": "call",
                        },
                    )
                    if index == len(titles) - 1:
                        close_task(session, admin, task.id, "done", "Done in the demo", None)
                    if index == 1 and len(product.statuses) > 1:
                        amount = {"fields": {"amount": "1200.00"}} if key == "invoices" else {}
                        update_card(
                            session,
                            admin,
                            card.id,
                            {**amount, "status_id": product.statuses[1].id},
                            None,
                        )
            return True
        finally:
            session.close()
