"""Monitoring reads of the inference log: aggregates across users, per endpoint and time window.

Row-level security binds every inference-log row to its user. Monitoring needs every user's calls of one
endpoint (counts, latencies, input distributions), so a second, read-only policy admits rows when the
transaction has declared ``app.monitoring_endpoint`` = the row's endpoint. Only the monitoring service
sets it, after the workspace confirmed the caller may monitor that endpoint; other transactions never see
rows of other users, and nothing can write through this policy.

The index serves the window scans: endpoint, then time.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE POLICY inference_log_monitoring ON inference_log FOR SELECT
            USING (endpoint = current_setting('app.monitoring_endpoint', true))
        """
    )
    op.execute("CREATE INDEX inference_log_endpoint_time ON inference_log (endpoint, started_at)")


def downgrade() -> None:
    op.execute("DROP INDEX inference_log_endpoint_time")
    op.execute("DROP POLICY inference_log_monitoring ON inference_log")
