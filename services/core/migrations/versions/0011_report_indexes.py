"""indexes for the reports: status changes by time, tasks closed and open tasks by time

The reports read a period's status changes (``card_history`` by ``type`` and ``at``), the
tasks closed as done in a period and the open tasks past their deadline, for every person at
once; the existing indexes lead with a card or a person, so these read a range instead of the
whole table. The tasks' indexes carry what the reports filter and group by, so they are read
without the table.

Revision ID: 0011
Revises: 0007
Create Date: 2026-12-05 22:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
# (written against 0006; chained after the current head, notes' 0007, so there is one head)
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TASK_CLOSED = ["status", "closed_at", "closed_by_id", "product_id", "card_trashed"]
TASK_DUE = ["status", "due", "assignee_id", "product_id", "card_trashed", "all_day", "due_date"]


def upgrade() -> None:
    op.create_index("ix_card_history_type_at", "card_history", ["type", "at"])
    op.create_index("ix_tasks_status_closed_at", "tasks", TASK_CLOSED)
    op.create_index("ix_tasks_status_due", "tasks", TASK_DUE)


def downgrade() -> None:
    op.drop_index("ix_tasks_status_due", table_name="tasks")
    op.drop_index("ix_tasks_status_closed_at", table_name="tasks")
    op.drop_index("ix_card_history_type_at", table_name="card_history")
