"""Loading many interactions in one request: validated all-or-nothing, written set-based, idempotent.

Each item names its source system's id (``source_system`` + ``external_id``, unique together). Posting the
same items again updates the rows whose values changed and keeps the rest, so a retried request never
duplicates anything. One ``INSERT ... ON CONFLICT DO UPDATE`` writes new and changed rows (so a concurrent
load of the same ids updates instead of failing), and the accounts touched get one history bump and one
engine notification after commit — bulk writes bypass the model signals (see ``crm.bulk``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from crm.models import ZERO, Account, Interaction, Product
from crm.services.history import account_history_touch
from crm.services.interactions import DIRECT_COST_KINDS

from .serializers_crm import InteractionBulkItemSerializer

MAX_ITEMS = 5_000
CENT = Decimal("0.01")
COMPARED = ("account_id", "kind", "channel", "occurred_at", "amount", "direct_cost", "quantity", "product_id",
            "due_on", "note")
#: Field names (not columns) for the upsert's ``DO UPDATE SET``.
UPDATED = ["account", "kind", "channel", "occurred_at", "amount", "direct_cost", "quantity", "product", "due_on",
           "note", "updated_at"]


@dataclass(frozen=True)
class BulkError:
    index: int | None
    field: str | None
    message: str


class BulkRejected(Exception):
    """Nothing was written; ``errors`` name each item (by its index in the list) and field at fault."""

    def __init__(self, errors: list[BulkError]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} error(s)")


@dataclass(frozen=True)
class BulkResult:
    created: int
    updated: int
    unchanged: int
    ids: list[int]


def _flatten(index: int, detail: Any, field: str | None = None) -> list[BulkError]:
    if isinstance(detail, dict):
        return [e for key, value in detail.items()
                for e in _flatten(index, value, None if key == "non_field_errors" else key)]
    if isinstance(detail, list):
        return [e for value in detail for e in _flatten(index, value, field)]
    return [BulkError(index, field, str(detail))]


def bulk_items_parse(payload: Any) -> list[dict]:
    """The posted list, each item validated on its own (no database); raises ``BulkRejected`` with every error."""
    if not isinstance(payload, list):
        raise BulkRejected([BulkError(None, None, "Post a JSON list of interactions.")])
    if not payload:
        raise BulkRejected([BulkError(None, None, "The list is empty.")])
    if len(payload) > MAX_ITEMS:
        raise BulkRejected([BulkError(None, None, f"At most {MAX_ITEMS:,} interactions per request; "
                                                  f"this one has {len(payload):,}. Split it.")])
    # One list serializer: its child's fields are built once, not per item (5,000 deep copies cost seconds).
    parsed = InteractionBulkItemSerializer(many=True, data=payload)
    errors: list[BulkError] = []
    if not parsed.is_valid():
        found = parsed.errors  # per item: a list aligned with the items, or {index: errors} (DRF ≥ 3.15)
        pairs = found.items() if isinstance(found, dict) else enumerate(found)
        errors = [e for index, detail in pairs for e in _flatten(index, detail)]
    seen: dict[tuple[Any, Any], int] = {}
    for index, raw in enumerate(payload):
        key = (raw.get("source_system"), raw.get("external_id")) if isinstance(raw, dict) else (None, None)
        if not all(isinstance(part, str) for part in key):
            continue  # a missing or malformed id is already reported above
        if key in seen:
            errors.append(BulkError(index, "external_id", f"Repeats item {seen[key]} ({key[0]}:{key[1]})."))
        seen.setdefault(key, index)
    if errors:
        raise BulkRejected(sorted(errors, key=lambda e: (e.index, e.field or "")))
    return [dict(item) for item in parsed.validated_data]


def interactions_bulk_upsert(
    *, items: Sequence[dict], actor: Any, refusal: Callable[[Account], str]
) -> BulkResult:
    """Write validated ``items`` (from :func:`bulk_items_parse`); all or nothing.

    ``refusal(account)`` says why ``actor`` may not change interactions of an account ('' when allowed); it
    is asked for the account each item names and, for items that exist already, the account they are on.
    """
    account_ids = {item["account"] for item in items}
    product_ids = {item["product"] for item in items if item.get("product")}
    with transaction.atomic():
        accounts = Account.objects.select_related("owner").in_bulk(account_ids)
        products = dict(Product.objects.filter(pk__in=product_ids).values_list("pk", "unit_cost"))
        existing = _existing(items)
        moved_from = {row["account_id"] for row in existing.values()} - account_ids
        accounts.update(Account.objects.select_related("owner").in_bulk(moved_from))

        errors: list[BulkError] = []
        refused: dict[int, str] = {}

        def check(account_id: int) -> str:
            if account_id not in refused:
                refused[account_id] = refusal(accounts[account_id])
            return refused[account_id]

        rows: list[dict] = []
        for index, item in enumerate(items):
            key = (item["source_system"], item["external_id"])
            if item["account"] not in accounts:
                errors.append(BulkError(index, "account", f"There is no account {item['account']}."))
            elif reason := check(item["account"]):
                errors.append(BulkError(index, "account", reason))
            old = existing.get(key)
            if old is not None and old["account_id"] != item["account"] and (reason := check(old["account_id"])):
                errors.append(BulkError(index, "external_id", f"{key[0]}:{key[1]} exists already and cannot be "
                                                              f"moved: {reason}"))
            if item.get("product") and item["product"] not in products:
                errors.append(BulkError(index, "product", f"There is no product {item['product']}."))
            rows.append(_row(item, products))
        if errors:
            raise BulkRejected(errors)

        written, unchanged, touched = [], 0, set()
        for row in rows:
            old = existing.get((row["source_system"], row["external_id"]))
            if old is not None and all(old[f] == row[f] for f in COMPARED):
                unchanged += 1
                continue
            written.append(Interaction(**row, logged_by=actor))
            touched.add(row["account_id"])
            if old is not None:
                touched.add(old["account_id"])
        Interaction.objects.bulk_create(
            written, batch_size=1000, update_conflicts=True, unique_fields=["source_system", "external_id"],
            update_fields=UPDATED,
        )
        ids_by_key = {(row["source_system"], row["external_id"]): row["pk"] for row in existing.values()}
        ids_by_key.update({(obj.source_system, obj.external_id): obj.pk for obj in written})
        account_history_touch(account_ids=touched)
    created = sum(1 for obj in written if (obj.source_system, obj.external_id) not in existing)
    return BulkResult(
        created=created, updated=len(written) - created, unchanged=unchanged,
        ids=[ids_by_key[(row["source_system"], row["external_id"])] for row in rows],
    )


def _existing(items: Sequence[dict]) -> dict[tuple[str, str], dict]:
    """The stored rows with the items' ids, locked until commit (a concurrent load waits, then sees ours)."""
    by_system: dict[str, list[str]] = defaultdict(list)
    for item in items:
        by_system[item["source_system"]].append(item["external_id"])
    found: dict[tuple[str, str], dict] = {}
    for system, external_ids in by_system.items():
        rows = (Interaction.objects.select_for_update().filter(source_system=system, external_id__in=external_ids)
                .values("pk", "source_system", "external_id", *COMPARED))
        found.update({(row["source_system"], row["external_id"]): row for row in rows})
    return found


def _row(item: dict, unit_costs: dict[int, Decimal]) -> dict:
    """The interaction's column values; money rounded to cents, the direct cost of goods defaulted as the pages do."""
    direct_cost = item.get("direct_cost")
    product_id, quantity = item.get("product"), item.get("quantity")
    if direct_cost is None and item["kind"] in DIRECT_COST_KINDS and product_id in unit_costs and quantity is not None:
        direct_cost = unit_costs[product_id] * quantity
    amount = item.get("amount")
    return {
        "source_system": item["source_system"], "external_id": item["external_id"],
        "account_id": item["account"], "kind": item["kind"], "channel": item["channel"],
        "occurred_at": item["occurred_at"],
        "amount": (amount if amount is not None else ZERO).quantize(CENT),
        "direct_cost": (direct_cost if direct_cost is not None else ZERO).quantize(CENT),
        "quantity": quantity, "product_id": product_id, "due_on": item.get("due_on"), "note": item.get("note", ""),
    }
