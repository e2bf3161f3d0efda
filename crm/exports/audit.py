"""The audit trail of exports: who took which data out, with which filters, how many rows.

Tierwise has no audit model for reads (configuration changes are audited by django-simple-history), so
exports go to the ``tierwise.audit`` logger: one record per export, with the fields both in the message
(``key=value``, readable in a plain log) and as ``record.audit`` (a dict, for a JSON formatter or a
handler that ships them elsewhere). Route the logger in ``LOGGING`` to keep it apart from application logs.
"""

from __future__ import annotations

import json
import logging
from typing import Any

audit_log = logging.getLogger("tierwise.audit")


def export_logged(*, user: Any, dataset: str, fmt: str, filters: dict[str, Any], rows: int, complete: bool) -> None:
    """Record one export. ``complete`` is False when the download was cut off (the rows are those sent)."""
    fields = {
        "event": "export",
        "user_id": user.pk,
        "username": user.get_username(),
        "dataset": dataset,
        "format": fmt,
        "filters": filters,
        "rows": rows,
        "complete": complete,
    }
    message = " ".join(f"{key}={json.dumps(value, sort_keys=True, default=str)}" for key, value in fields.items()
                       if key != "event")
    audit_log.info("export %s", message, extra={"audit": fields})
