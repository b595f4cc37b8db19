"""Inference log: one row per call to a serving endpoint, bound to its user by row-level security.

Every call is kept (successes and refusals): who called, which endpoint, which served entity and model
version answered, the inputs and outputs, the status, the latency and when (UTC). A batch logs one row per
chunk (each chunk is one call to the endpoint), linked by ``batch_id``. History pages by ``id`` descending,
which is unique and follows insertion order: stable under concurrent writes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE inference_log (
            id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            user_name      text NOT NULL,
            endpoint       text NOT NULL,
            served_entity  text,
            model_name     text,
            model_version  text,
            request_id     text,
            batch_id       uuid,
            chunk_index    integer,
            record_count   integer NOT NULL,
            inputs         jsonb NOT NULL,
            outputs        jsonb,
            status         text NOT NULL CHECK (status IN ('success', 'error')),
            error_code     text,
            error_message  text,
            latency_ms     double precision NOT NULL,
            started_at     timestamptz NOT NULL,
            finished_at    timestamptz NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX inference_log_user_id ON inference_log (user_name, id DESC)")
    op.execute("ALTER TABLE inference_log ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE inference_log FORCE ROW LEVEL SECURITY")
    op.execute(
        """
        CREATE POLICY inference_log_of_current_user ON inference_log
            USING (user_name = current_setting('app.user', true))
            WITH CHECK (user_name = current_setting('app.user', true))
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE inference_log")
