"""The loader for databases other than PostgreSQL (the zero-setup SQLite default): the same rules through the
ORM, a few queries per batch instead of per row (slower than COPY, fine for the demo's file sizes).

See :mod:`crm.imports.loading` for the rules: first occurrence of a key wins, unmapped fields are left as
they are on update, unchanged rows are not written, touched accounts' ``history_version`` is bumped.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from ..models import (
    Account,
    AccountSourceId,
    Channel,
    Contact,
    Interaction,
    InteractionKind,
    MarketingSpend,
    Product,
    SurveyResponse,
)
from ..models_imports import ImportKind
from ..services.interactions import DIRECT_COST_KINDS
from .loading import BatchResult, LoadContext, Loader, duplicate_field, key_of, reason_unknown

Row = tuple[int, dict[str, Any]]


class OrmLoader(Loader):
    def __init__(self, context: LoadContext) -> None:
        super().__init__(context)
        self.seen: dict[str, int] = {}
        self.source = context.source_system

    def start(self) -> None:
        self.seen = {}

    def checkpoint(self) -> Any:
        return dict(self.seen)

    def restore(self, state: Any) -> None:
        self.seen = state

    def finish(self) -> None:
        self.seen = {}

    def load(self, rows: list[Row]) -> BatchResult:
        result = BatchResult()
        kind = self.context.kind
        field, what = duplicate_field(kind)
        fresh: list[Row] = []
        for line, values in rows:  # the first valid row of the file with a key is the one considered
            first = self.seen.setdefault(key_of(kind, values), line)
            if first == line:
                fresh.append((line, values))
            else:
                result.rejects.append((line, field, f"the same {what} is already on line {first} of this file "
                                                    "(the first one is imported)"))
        kept = self._resolve(fresh, result)
        getattr(self, f"_upsert_{kind}")(kept, result)
        result.unchanged = len(rows) - len(result.rejects) - result.created - result.updated
        if result.touched_account_ids:
            Account.objects.filter(id__in=result.touched_account_ids).update(
                history_version=F("history_version") + 1
            )
        return result

    # --- lookups ------------------------------------------------------------------------------------------

    def _accounts_by_external(self, ids: set[str]) -> dict[str, int]:
        return dict(
            AccountSourceId.objects.filter(source_system=self.source, external_id__in=ids)
            .values_list("external_id", "account_id")
        )

    def _resolve(self, rows: list[Row], result: BatchResult) -> list[Row]:
        kind = self.context.kind
        accounts = {}
        if kind in (ImportKind.CONTACTS, ImportKind.INTERACTIONS, ImportKind.SURVEY_ANSWERS):
            accounts = self._accounts_by_external({v["account_external_id"] for _, v in rows})
        products = {}
        if kind == ImportKind.INTERACTIONS:
            skus = {v.get("product_sku") for _, v in rows} - {None}
            products = {p.sku: p for p in Product.objects.filter(sku__in=skus)}
        contacts = {}
        if kind == ImportKind.SURVEY_ANSWERS:
            refs = {v.get("contact_external_id") for _, v in rows} - {None}
            contacts = {c.external_id: c for c in Contact.objects.filter(source_system=self.source,
                                                                        external_id__in=refs)}
        existing_kinds = {}
        if kind in (ImportKind.INTERACTIONS, ImportKind.SURVEY_ANSWERS):
            existing_kinds = dict(Interaction.objects.filter(
                source_system=self.source, external_id__in=[v["external_id"] for _, v in rows]
            ).values_list("external_id", "kind"))
        owners = self._owners(rows) if kind == ImportKind.ACCOUNTS else {}
        accepted = []
        for line, values in rows:
            errors: list[tuple[str, str]] = []
            if "account_external_id" in values:
                account_id = accounts.get(values["account_external_id"])
                if account_id is None:
                    errors.append(("account_external_id",
                                   reason_unknown("account", values["account_external_id"], self.source)))
                values["account_id"] = account_id
            sku = values.get("product_sku")
            if kind == ImportKind.INTERACTIONS:
                values["product"] = products.get(sku) if sku else None
                if sku and values["product"] is None:
                    errors.append(("product_sku", f"no product with SKU '{sku}'"))
                if existing_kinds.get(values["external_id"]) == InteractionKind.SURVEY:
                    errors.append(("external_id", f"'{values['external_id']}' is a survey answer already: "
                                                  "import it with the survey answers"))
            if kind == ImportKind.SURVEY_ANSWERS:
                ref = values.get("contact_external_id")
                contact = contacts.get(ref) if ref else None
                if ref and contact is None:
                    errors.append(("contact_external_id", reason_unknown("contact", ref, self.source)))
                elif contact is not None and values["account_id"] and contact.account_id != values["account_id"]:
                    errors.append(("contact_external_id", f"the contact '{ref}' belongs to another account"))
                values["contact"] = contact
                stored_kind = existing_kinds.get(values["external_id"])
                if stored_kind is not None and stored_kind != InteractionKind.SURVEY:
                    errors.append(("external_id", f"'{values['external_id']}' is already an interaction of "
                                                  "another kind in this source system"))
            if kind == ImportKind.ACCOUNTS and values.get("owner"):
                values["owner_id"] = owners.get(values["owner"].lower())
                if values["owner_id"] is None:
                    errors.append(("owner", f"no Tierwise user with the user name or e-mail '{values['owner']}'"))
            if errors:
                result.rejects.extend((line, name, reason) for name, reason in errors)
            else:
                accepted.append((line, values))
        return accepted

    def _owners(self, rows: list[Row]) -> dict[str, int]:
        wanted = {v["owner"].lower() for _, v in rows if v.get("owner")}
        if not wanted:
            return {}
        found: dict[str, int] = {}
        users = get_user_model().objects.annotate(lu=Lower("username"), le=Lower("email"))
        for user_id, _username, email in users.filter(Q(lu__in=wanted) | Q(le__in=wanted)).order_by("-id") \
                .values_list("id", "lu", "le"):
            if email in wanted:
                found[email] = user_id
        for user_id, username, _ in users.filter(lu__in=wanted).values_list("id", "lu", "le"):
            found[username] = user_id  # a user name beats an e-mail
        return found

    def _channel_ids(self, names: set[str]) -> dict[str, int]:
        by_lower = {}
        for channel_id, name in Channel.objects.order_by("id").values_list("id", "name"):
            by_lower.setdefault(name.lower(), channel_id)
        for name in sorted(names):
            if name.lower() not in by_lower:
                by_lower[name.lower()] = Channel.objects.get_or_create(name=name)[0].id
        return by_lower

    # --- upserts ------------------------------------------------------------------------------------------

    def _apply(self, model: type, existing: dict[Any, Any], key: Any, fields: dict[str, Any],
               create: dict[str, Any], result: BatchResult, *, only_mapped: set[str]) -> Any:
        """Create the record or write the changed mapped fields; count which it was."""
        instance = existing.get(key)
        if instance is None:
            # bulk_create: no model signals — the loader bumps history_version itself, once per batch.
            instance = model.objects.bulk_create([model(**fields, **create)])[0]
            existing[key] = instance
            result.created += 1
            return instance
        changed = [name for name, value in fields.items()
                   if name in only_mapped and getattr(instance, name) != value]
        if changed:
            for name in changed:
                setattr(instance, name, fields[name])
            if hasattr(instance, "updated_at"):
                changed.append("updated_at")
            model.objects.filter(pk=instance.pk).update(
                **{name: getattr(instance, name) for name in changed if name != "updated_at"},
                **({"updated_at": timezone.now()} if "updated_at" in changed else {}),
            )
            result.updated += 1
        return instance

    def _write_set(self, mapping: dict[str, tuple[str, ...]]) -> set[str]:
        mapped = self.context.mapped
        return {name for name, sources in mapping.items() if not sources or mapped.intersection(sources)}

    def _upsert_accounts(self, rows: list[Row], result: BatchResult) -> None:
        links = {
            s.external_id: s.account for s in AccountSourceId.objects.select_related("account").filter(
                source_system=self.source, external_id__in=[v["external_id"] for _, v in rows])
        }
        channels = self._channel_ids({v["acquisition_channel"] for _, v in rows if v.get("acquisition_channel")})
        text = ("industry", "country", "region", "employee_band", "segment", "web_domain", "tax_id", "phone")
        write = self._write_set({
            "name": (), **{n: (n,) for n in text}, "acquisition_channel_id": ("acquisition_channel",),
            "acquired_on": ("acquired_on",), "status": ("status",), "churned_on": ("churned_on",),
            "relationship": ("relationship",), "owner_id": ("owner",),
        })
        for line, v in rows:
            stored = links.get(v["external_id"])
            status = v.get("status") if "status" in self.context.mapped else (stored.status if stored else "active")
            churned_on = v.get("churned_on") if "churned_on" in self.context.mapped else (
                stored.churned_on if stored else None)
            if status == Account.Status.CHURNED and churned_on is None:
                result.rejects.append((line, "churned_on" if "churned_on" in self.context.mapped else "status",
                                       "a churned account needs a churn date"))
                continue
            channel = v.get("acquisition_channel")
            fields = {
                "name": v["name"], **{n: v.get(n) or "" for n in text},
                "acquisition_channel_id": channels.get(channel.lower()) if channel else None,
                "acquired_on": v.get("acquired_on"), "status": v.get("status") or "active",
                "churned_on": v.get("churned_on"), "relationship": v.get("relationship") or "repeat",
                "owner_id": v.get("owner_id"),
            }
            account = self._apply(Account, {v["external_id"]: stored} if stored else {}, v["external_id"], fields,
                                  {}, result, only_mapped=write)
            if stored is None:
                AccountSourceId.objects.create(account=account, source_system=self.source,
                                               external_id=v["external_id"])

    def _existing(self, model: type, rows: list[Row]) -> dict[str, Any]:
        return {o.external_id: o for o in model.objects.filter(
            source_system=self.source, external_id__in=[v["external_id"] for _, v in rows])}

    def _upsert_contacts(self, rows: list[Row], result: BatchResult) -> None:
        existing = self._existing(Contact, rows)
        write = self._write_set({"account_id": (), "name": (), "role": ("role",), "email": ("email",),
                                 "phone": ("phone",)})
        for _, v in rows:
            fields = {"account_id": v["account_id"], "name": v["name"], "role": v.get("role") or "",
                      "email": v.get("email") or "", "phone": v.get("phone") or ""}
            self._apply(Contact, existing, v["external_id"], fields,
                        {"source_system": self.source, "external_id": v["external_id"]}, result, only_mapped=write)

    def _upsert_interactions(self, rows: list[Row], result: BatchResult) -> None:
        existing = self._existing(Interaction, rows)
        write = self._write_set({
            "account_id": (), "kind": (), "occurred_at": (), "channel": ("channel",), "amount": ("amount",),
            "direct_cost": ("direct_cost", "quantity", "product_sku"), "quantity": ("quantity",),
            "product_id": ("product_sku",), "due_on": ("due_on",), "note": ("note",),
        })
        for _, v in rows:
            product, quantity = v.get("product"), v.get("quantity")
            direct_cost = v.get("direct_cost")
            if direct_cost is None:
                direct_cost = Decimal("0.00")
                if v["kind"] in DIRECT_COST_KINDS and product is not None and quantity is not None:
                    direct_cost = (product.unit_cost * quantity).quantize(Decimal("0.01"))
            fields = {
                "account_id": v["account_id"], "kind": v["kind"], "occurred_at": v["occurred_at"],
                "channel": v.get("channel") or "other", "amount": v.get("amount") or Decimal("0.00"),
                "direct_cost": direct_cost, "quantity": quantity, "product_id": product.id if product else None,
                "due_on": v.get("due_on"), "note": v.get("note") or "",
            }
            before = existing.get(v["external_id"])
            old_account = before.account_id if before else None
            counts = (result.created, result.updated)
            self._apply(Interaction, existing, v["external_id"], fields,
                        {"source_system": self.source, "external_id": v["external_id"],
                         "logged_by_id": self.context.user_id}, result, only_mapped=write)
            if (result.created, result.updated) != counts:
                result.touched_account_ids.add(v["account_id"])
                if old_account is not None:
                    result.touched_account_ids.add(old_account)

    def _upsert_survey_answers(self, rows: list[Row], result: BatchResult) -> None:
        answers = self._existing(SurveyResponse, rows)
        touches = self._existing(Interaction, rows)
        write = self._write_set({"account_id": (), "score": (), "answered_at": (), "comment": ("comment",),
                                 "contact_id": ("contact_external_id",)})
        touch_write = self._write_set({"account_id": (), "occurred_at": (), "note": (), "channel": ("channel",)})
        mapped = self.context.mapped
        for _, v in rows:
            stored = answers.get(v["external_id"])
            comment = v.get("comment") or "" if "comment" in mapped else (stored.comment if stored else "")
            contact = v.get("contact") if "contact_external_id" in mapped else (stored.contact if stored else None)
            note = f"NPS {v['score']}/10" + (f" — {comment}" if comment else "") + (
                f" ({contact.name})" if contact is not None else "")
            inner = BatchResult()
            self._apply(SurveyResponse, answers, v["external_id"], {
                "account_id": v["account_id"], "score": v["score"], "answered_at": v["answered_at"],
                "comment": v.get("comment") or "", "contact_id": v["contact"].id if v.get("contact") else None,
            }, {"source_system": self.source, "external_id": v["external_id"]}, inner, only_mapped=write)
            before = touches.get(v["external_id"])
            touch = BatchResult()
            self._apply(Interaction, touches, v["external_id"], {
                "account_id": v["account_id"], "occurred_at": v["answered_at"], "note": note,
                "channel": v.get("channel") or "other",
            }, {"kind": InteractionKind.SURVEY, "source_system": self.source, "external_id": v["external_id"],
                "logged_by_id": self.context.user_id}, touch, only_mapped=touch_write)
            if inner.created or touch.created:
                result.created += 1
            elif inner.updated or touch.updated:
                result.updated += 1
            if touch.created or touch.updated:
                result.touched_account_ids.add(v["account_id"])
                if before is not None:
                    result.touched_account_ids.add(before.account_id)

    def _upsert_marketing_spend(self, rows: list[Row], result: BatchResult) -> None:
        channels = self._channel_ids({v["channel"] for _, v in rows})
        for _, v in rows:
            channel_id = channels[v["channel"].lower()]
            spend = MarketingSpend.objects.filter(channel_id=channel_id, period=v["month"]).first()
            self._apply(MarketingSpend, {"k": spend} if spend else {}, "k", {"amount": v["amount"]},
                        {"channel_id": channel_id, "period": v["month"]}, result, only_mapped={"amount"})
