"""Finding duplicate candidates across the whole book (nightly) or for changed accounts (every few minutes).

fetch → calculate → write:

1. **Keys.** Every account's raw name, web domain, tax id, phone and country are hashed; accounts whose hash
   changed (or that are new) get their normalised keys and block keys recomputed (``matching``) and
   upserted into ``AccountMatchKey``. Deleted accounts lose theirs by cascade.
2. **Blocking, in SQL.** One self-join of the block keys (``jsonb_array_elements_text``) pairs accounts that
   share a key, skipping keys shared by too many accounts (a call-centre number, a common word pair).
   Pairs already decided (dismissed, merged) are dropped.
3. **Scoring, in Python.** rapidfuzz: pairs that share no identifier and whose names are too far apart to
   reach the threshold are dropped with one cheap ratio (:func:`matching.cannot_match`); the rest get
   :func:`matching.pair_score` with the book's common words.
4. **Writing.** Pairs at :data:`matching.MIN_SCORE` or more are upserted as open candidates (score, reasons
   and names refreshed; a reviewer's decision is never touched); open candidates in scope that no longer
   match are removed.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, Exists, Func, OuterRef, Value

from ..bulk import copy_rows
from ..models import Account, DuplicateCandidate
from ..models_merge import AccountMatchKey
from . import matching

log = logging.getLogger(__name__)

NAME_BLOCK_CAP = 60  # a name key shared by more accounts than this blocks nobody (pairs grow quadratically)
ID_BLOCK_CAP = 50  # a domain / tax id / phone shared by more accounts than this identifies nobody
COMMON_SHARE = 0.002  # a word in more than this share of names (and at least COMMON_MIN) counts as common
COMMON_MIN = 20
BATCH = 2000
KEY_FIELDS = ["account_id", "source_hash", "name_key", "domain_key", "tax_key", "phone_key", "block_keys"]


@dataclass(frozen=True)
class ScanResult:
    accounts: int
    keys_refreshed: int
    pairs_blocked: int
    pairs_scored: int
    candidates: int  # open candidates found (new or refreshed)
    removed: int  # open candidates that no longer match
    seconds: float

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def _source_hash(name: str, web_domain: str, tax_id: str, phone: str, country: str) -> str:
    raw = "\x1f".join((name, web_domain, tax_id, phone, country))
    return hashlib.md5(raw.encode(), usedforsecurity=False).hexdigest()


def keys_refresh(*, account_ids: Collection[int] | None = None) -> list[int]:
    """Recompute the match keys of accounts whose raw values changed (all accounts, or ``account_ids``).

    Returns the ids refreshed. Idempotent: a second run refreshes nothing.
    """
    accounts = Account.objects.all()
    keys = AccountMatchKey.objects.all()
    if account_ids is not None:
        accounts = accounts.filter(pk__in=list(account_ids))
        keys = keys.filter(account_id__in=list(account_ids))
    if connection.vendor == "postgresql":
        # Let the database compare hashes (the same md5 as _source_hash): only changed accounts come back.
        raw = Func(Value("\x1f"), *(OuterRef(f) for f in ("name", "web_domain", "tax_id", "phone", "country")),
                   function="concat_ws", output_field=CharField())
        same = AccountMatchKey.objects.filter(
            account_id=OuterRef("pk"), source_hash=Func(raw, function="md5", output_field=CharField()))
        accounts = accounts.exclude(Exists(same))
        keys = keys.filter(account_id__in=accounts.values("pk"))
    stored = dict(keys.values_list("account_id", "source_hash"))
    fresh = []
    for pk, name, web_domain, tax_id, phone, country in accounts.values_list(
        "pk", "name", "web_domain", "tax_id", "phone", "country"
    ).iterator(chunk_size=BATCH):
        digest = _source_hash(name, web_domain, tax_id, phone, country)
        if stored.get(pk) == digest:
            continue
        record = matching.record_for(name=name, web_domain=web_domain, tax_id=tax_id, phone=phone, country=country)
        fresh.append(AccountMatchKey(
            account_id=pk, source_hash=digest, name_key=record.name_key[:200], domain_key=record.domain[:200],
            tax_key=record.tax_id[:40], phone_key=record.phone[:40], block_keys=matching.block_keys(record),
        ))
    new = [k for k in fresh if k.account_id not in stored]
    changed = [k for k in fresh if k.account_id in stored]
    if new:
        try:
            with transaction.atomic():  # COPY: ten times faster than INSERTs for a first scan of a big book
                copy_rows(AccountMatchKey, KEY_FIELDS, ([getattr(k, f) for f in KEY_FIELDS] for k in new))
        except IntegrityError:  # another writer stored some of them meanwhile: upsert instead
            changed += new
    for start in range(0, len(changed), BATCH):
        # Each batch commits on its own: a crash halfway leaves correct keys, and the next run does the rest.
        AccountMatchKey.objects.bulk_create(
            changed[start:start + BATCH], update_conflicts=True, unique_fields=["account"],
            update_fields=KEY_FIELDS[1:],
        )
    return [k.account_id for k in fresh]


def common_words(*, total: int) -> frozenset[str]:
    """Words in so many of the book's names that sharing them says little (weighted down when scoring)."""
    threshold = max(COMMON_MIN, int(total * COMMON_SHARE))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT word FROM crm_accountmatchkey, regexp_split_to_table(name_key, ' ') AS word "
                "GROUP BY word HAVING count(*) > %s",
                [threshold],
            )
            return frozenset(row[0] for row in cursor.fetchall())
    counts: dict[str, int] = {}
    for name_key in AccountMatchKey.objects.values_list("name_key", flat=True).iterator(chunk_size=BATCH):
        for word in set(name_key.split()):
            counts[word] = counts.get(word, 0) + 1
    return frozenset(w for w, n in counts.items() if n > threshold)


BLOCK_SQL = """
WITH keyed AS (
    SELECT k.account_id, e.key
    FROM crm_accountmatchkey k CROSS JOIN LATERAL jsonb_array_elements_text(k.block_keys) AS e(key)
), usable AS (
    SELECT key FROM keyed GROUP BY key
    HAVING count(*) BETWEEN 2 AND CASE WHEN left(key, 2) IN ('t:', 'd:', 'p:') THEN %(id_cap)s ELSE %(name_cap)s END
)
SELECT DISTINCT a.account_id, b.account_id
FROM keyed a JOIN usable u ON u.key = a.key JOIN keyed b ON b.key = a.key AND b.account_id > a.account_id
"""
# The changed accounts' keys, and through the GIN index on block_keys every account sharing one of them.
SCOPED_BLOCK_SQL = """
WITH mine AS (
    SELECT DISTINCT k.account_id, e.key
    FROM crm_accountmatchkey k CROSS JOIN LATERAL jsonb_array_elements_text(k.block_keys) AS e(key)
    WHERE k.account_id = ANY(%(scope)s)
), members AS (
    SELECT m.key, o.account_id
    FROM (SELECT DISTINCT key FROM mine) m
    JOIN crm_accountmatchkey o ON o.block_keys @> jsonb_build_array(m.key)
), usable AS (
    SELECT key FROM members GROUP BY key
    HAVING count(*) BETWEEN 2 AND CASE WHEN left(key, 2) IN ('t:', 'd:', 'p:') THEN %(id_cap)s ELSE %(name_cap)s END
)
SELECT DISTINCT least(a.account_id, b.account_id), greatest(a.account_id, b.account_id)
FROM mine a JOIN usable u ON u.key = a.key JOIN members b ON b.key = a.key AND b.account_id <> a.account_id
"""


def _blocked_pairs(scope: Collection[int] | None) -> set[tuple[int, int]]:
    if connection.vendor != "postgresql":
        keys = dict(AccountMatchKey.objects.values_list("account_id", "block_keys").iterator(chunk_size=BATCH))
        return matching.blocked_pairs(keys, name_cap=NAME_BLOCK_CAP, id_cap=ID_BLOCK_CAP,
                                      scope=set(scope) if scope is not None else None)
    params: dict = {"id_cap": ID_BLOCK_CAP, "name_cap": NAME_BLOCK_CAP}
    sql = BLOCK_SQL
    if scope is not None:
        params["scope"] = sorted(scope)
        sql = SCOPED_BLOCK_SQL
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '64MB'")  # the self-join sorts and hashes a few million rows
        cursor.execute(sql, params)
        return {(low, high) for low, high in cursor.fetchall()}


def _records(account_ids: Iterable[int] | None) -> dict[int, matching.Record]:
    rows = AccountMatchKey.objects.all()
    if account_ids is not None:
        rows = rows.filter(account_id__in=list(account_ids))
    return {
        r["account_id"]: matching.Record(
            name=r["account__name"], name_key=r["name_key"], domain=r["domain_key"], tax_id=r["tax_key"],
            phone=r["phone_key"], country=(r["account__country"] or "").upper(),
        )
        for r in rows.values("account_id", "account__name", "account__country", "name_key", "domain_key",
                             "tax_key", "phone_key").iterator(chunk_size=BATCH)
    }


def _decided_pairs() -> set[tuple[int, int]]:
    return set(
        DuplicateCandidate.objects.exclude(status=DuplicateCandidate.Status.OPEN)
        .filter(low__isnull=False, high__isnull=False).values_list("low_id", "high_id")
    )


def candidates_find(*, account_ids: Collection[int] | None = None, full: bool = True) -> ScanResult:
    """Refresh keys and (re)score candidate pairs: the whole book, or only pairs touching changed accounts.

    ``full=False``: the scope is the accounts whose keys changed since the last scan plus ``account_ids``
    (say, a survivor just merged); nothing in scope, nothing to do. Idempotent; safe to run concurrently
    with reviews (a decided pair is never re-proposed or reopened).
    """
    started = time.monotonic()
    refreshed = keys_refresh()
    total = AccountMatchKey.objects.count()
    scope: set[int] | None = None
    if not full:
        scope = set(refreshed) | set(account_ids or ())
        if not scope:
            return ScanResult(total, 0, 0, 0, 0, 0, round(time.monotonic() - started, 2))

    pairs = _blocked_pairs(scope) - _decided_pairs()
    involved = {i for pair in pairs for i in pair}
    records = _records(None if scope is None and len(involved) > 20_000 else involved)
    common = common_words(total=total)
    found: dict[tuple[int, int], matching.PairScore] = {}
    scored = 0
    for low, high in pairs:
        a, b = records.get(low), records.get(high)
        if a is None or b is None:  # deleted since the blocking query
            continue
        if matching.cannot_match(a, b):
            continue
        scored += 1
        result = matching.pair_score(a, b, common=common)
        if result.is_candidate:
            found[(low, high)] = result

    rows = [
        DuplicateCandidate(low_id=low, high_id=high, low_name=records[low].name[:200],
                           high_name=records[high].name[:200], score=r.score, reasons=list(r.reasons))
        for (low, high), r in sorted(found.items())
    ]
    existing = Account.objects.filter(pk__in=involved).values_list("pk", flat=True)
    with transaction.atomic():
        alive = set(existing)  # an account deleted meanwhile must not get a candidate (FK would fail)
        DuplicateCandidate.objects.bulk_create(
            [row for row in rows if row.low_id in alive and row.high_id in alive], batch_size=BATCH,
            update_conflicts=True, unique_fields=["low", "high"],
            # Never ``status``: a decision taken while the scan ran stands.
            update_fields=["score", "reasons", "low_name", "high_name"],
        )
        stale = DuplicateCandidate.objects.filter(status=DuplicateCandidate.Status.OPEN)
        if scope is not None:
            stale = stale.filter(low_id__in=sorted(scope)) | stale.filter(high_id__in=sorted(scope))
        stale_ids = [pk for pk, low, high in stale.values_list("pk", "low_id", "high_id") if (low, high) not in found]
        removed, _ = DuplicateCandidate.objects.filter(pk__in=stale_ids).delete()
    result = ScanResult(total, len(refreshed), len(pairs), scored, len(found), removed,
                        round(time.monotonic() - started, 2))
    log.info("Duplicate scan (%s): %s", "full" if full else f"{len(scope or ())} accounts", result.as_dict())
    return result
