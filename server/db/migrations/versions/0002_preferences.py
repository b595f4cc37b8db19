"""Preferences: one JSON value per (user, key), versioned for optimistic concurrency, isolated by RLS.

Isolation is enforced twice: every query of the app filters on the user, and PostgreSQL row-level
security binds every row to the transaction's ``app.user`` setting (``set_config('app.user', ..., true)``
at the start of each transaction). The app's role owns the table, so FORCE makes the policy apply to it.
``value`` is ``json``, not ``jsonb``: PostgreSQL checks that it is JSON and keeps the text exactly as
written, while ``jsonb`` cannot hold a string with ``\u0000`` in it, which is valid JSON a user may save.
``version`` comes from a sequence: it changes on every write and is never reused, even after a delete,
so an old ETag can never match a newer value.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE preference_versions AS bigint")
    op.execute(
        """
        CREATE TABLE preferences (
            user_name  text NOT NULL,
            key        text COLLATE "C" NOT NULL,
            value      json NOT NULL,
            version    bigint NOT NULL DEFAULT nextval('preference_versions'),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (user_name, key)
        )
        """
    )
    op.execute("ALTER SEQUENCE preference_versions OWNED BY preferences.version")
    op.execute("ALTER TABLE preferences ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE preferences FORCE ROW LEVEL SECURITY")
    op.execute(
        """
        CREATE POLICY preferences_of_current_user ON preferences
            USING (user_name = current_setting('app.user', true))
            WITH CHECK (user_name = current_setting('app.user', true))
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE preferences")
