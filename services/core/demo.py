"""Demo account and data, created by ``cardcrm up`` on first start (when there is no user)."""

from __future__ import annotations

from datetime import timedelta

from cardcrm.common.db import get_db
from cardcrm.common.timeutil import utcnow
from flask import Flask

from .auth.service import count_users, create_user
from .cards.service import create_card, update_card
from .products.service import create_product
from .products.templates import list_templates
from .tasks.service import close_task, create_task

DEMO_EMAIL = "demo@cardcrm.example"
DEMO_PASSWORD = "demo-password"

CARDS = {
    "sales": ["ACME Corp: 20 licences", "Globex renewal", "Initech pilot", "Umbrella upsell"],
    "invoices": ["Invoice 2026-001 (ACME)", "Invoice 2026-002 (Globex)", "Invoice 2026-003"],
    "recruiting": ["Ana Popescu", "John Smith", "Maria Ionescu"],
    "projects": ["Website relaunch", "CRM migration", "Office move"],
}


def seed_demo(app: Flask) -> bool:
    """Create the demo admin and one product per built-in template; False if users exist."""
    with app.app_context():
        session = get_db().session()
        try:
            if count_users(session):
                return False
            admin = create_user(
                session,
                email=DEMO_EMAIL,
                name="Demo Admin",
                password=DEMO_PASSWORD,
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
