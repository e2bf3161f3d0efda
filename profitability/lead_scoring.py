"""Lead scoring by expected profitability: what an open lead is worth, not only how likely it is to close.

Two kinds of model, trained with scikit-learn on the book and stored as plain coefficients (they are linear,
so scoring is a few dot products — no pickles in the database):

- **value**: ridge regression of an account's *lifetime value* — the net profit it has made so far plus its
  predicted remaining CLV (the engine's predictive CLV, else its formula CLV; 0 once churned) — on the
  firmographics a lead also has: acquisition channel, industry, region and employee band (one-hot);
- **win**: logistic regressions of won vs lost on the same features, one over every closed lead (for leads
  still at MQL) and one over the closed leads that reached SQL (for leads at SQL).

An open lead's expected value = P(win | its stage) × predicted value. Its *reasons* are the features that
move that expected value most: for each feature, the expected value minus what it would be if the feature
were average (its one-hot block replaced by the training shares) — exact for these linear models.

Accuracy is measured on a 20 % hold-out (fixed ``random_state``): R² and MAE of the value model against a
mean-only baseline, ROC AUC and accuracy of the win models. The deployed models are the ones measured.
The fitting and scoring functions are pure (arrays in, numbers out); the service functions at the end
fetch and write.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

FEATURES: tuple[str, ...] = ("channel", "industry", "region", "employee_band")
FEATURE_LABELS = {"channel": "Channel", "industry": "Industry", "region": "Region", "employee_band": "Employees"}
MISSING = "(none)"
RANDOM_STATE = 0
HOLDOUT = 0.2
MIN_ROWS = 30
REASONS = 3
CENT = Decimal("0.01")
VALUE_TARGET = "Lifetime value: net profit to date + predicted remaining CLV"


def _clean(value: object) -> str:
    text = "" if value is None else str(value).strip()
    return text or MISSING


def feature_matrix(rows: Sequence[Mapping[str, object]]) -> np.ndarray:
    """An (n, len(FEATURES)) array of category strings; blanks become ``MISSING``."""
    return np.array([[_clean(row.get(f)) for f in FEATURES] for row in rows], dtype=object).reshape(-1, len(FEATURES))


# --- fitting (scikit-learn) -------------------------------------------------------------------------------------


def _encoder(X: np.ndarray):  # type: ignore[no-untyped-def]
    from sklearn.preprocessing import OneHotEncoder

    return OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(X)


def _coefficients(encoder, coef: np.ndarray) -> dict[str, dict[str, float]]:  # type: ignore[no-untyped-def]
    out, start = {}, 0
    for feature, categories in zip(FEATURES, encoder.categories_, strict=True):
        out[feature] = {str(c): float(coef[start + i]) for i, c in enumerate(categories)}
        start += len(categories)
    return out


def _shares(X: np.ndarray) -> dict[str, dict[str, float]]:
    out = {}
    for j, feature in enumerate(FEATURES):
        values, counts = np.unique(X[:, j].astype(str), return_counts=True)
        out[feature] = {str(v): float(c / counts.sum()) for v, c in zip(values, counts, strict=True)}
    return out


def fit_value_model(X: np.ndarray, y: np.ndarray, *, alpha: float = 1.0) -> tuple[dict, dict]:
    """Ridge regression of lifetime value on one-hot features; (params, hold-out metrics)."""
    from sklearn.linear_model import Ridge
    from sklearn.metrics import mean_absolute_error, r2_score
    from sklearn.model_selection import train_test_split

    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=HOLDOUT, random_state=RANDOM_STATE)
    encoder = _encoder(X_train)
    model = Ridge(alpha=alpha).fit(encoder.transform(X_train), y_train)
    predicted = model.predict(encoder.transform(X_test))
    params = {"intercept": float(model.intercept_), "coef": _coefficients(encoder, model.coef_),
              "shares": _shares(X_train)}
    metrics = {
        "r2": round(float(r2_score(y_test, predicted)), 4),
        "mae": round(float(mean_absolute_error(y_test, predicted)), 2),
        "baseline_mae": round(float(mean_absolute_error(y_test, np.full(y_test.size, y_train.mean()))), 2),
        "n_train": int(y_train.size), "n_holdout": int(y_test.size), "target": VALUE_TARGET,
    }
    return params, metrics


def fit_win_model(X: np.ndarray, won: np.ndarray) -> tuple[dict, dict]:
    """Logistic regression of won (1) vs lost (0); (params, hold-out metrics).

    With only one outcome in the data (every lead won, or every one lost) the model is that rate.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    won = np.asarray(won, dtype=int)
    base_rate = float(won.mean()) if won.size else 0.0
    if won.size < MIN_ROWS or won.min() == won.max():
        rate = min(max(base_rate, 1e-6), 1 - 1e-6)
        params = {"intercept": math.log(rate / (1 - rate)), "coef": {f: {} for f in FEATURES},
                  "shares": _shares(X) if len(X) else {f: {} for f in FEATURES}}
        return params, {"auc": None, "accuracy": None, "base_rate": round(base_rate, 4),
                        "n_train": int(won.size), "n_holdout": 0, "note": "one outcome only: its rate is used"}
    X_train, X_test, y_train, y_test = train_test_split(
        X, won, test_size=HOLDOUT, random_state=RANDOM_STATE, stratify=won)
    encoder = _encoder(X_train)
    model = LogisticRegression(max_iter=1000).fit(encoder.transform(X_train), y_train)
    probability = model.predict_proba(encoder.transform(X_test))[:, 1]
    params = {"intercept": float(model.intercept_[0]), "coef": _coefficients(encoder, model.coef_[0]),
              "shares": _shares(X_train)}
    metrics = {
        "auc": round(float(roc_auc_score(y_test, probability)), 4) if len(set(y_test)) == 2 else None,
        "accuracy": round(float(accuracy_score(y_test, probability >= 0.5)), 4),
        "base_rate": round(base_rate, 4), "n_train": int(y_train.size), "n_holdout": int(y_test.size),
    }
    return params, metrics


# --- scoring (pure) ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    feature: str  # label, e.g. "Channel"
    value: str  # the lead's category, e.g. "Referral"
    effect: Decimal  # expected value minus what it would be with this feature at the book's average


@dataclass(frozen=True)
class LeadScoreResult:
    p_win: float
    predicted_value: Decimal
    expected_value: Decimal
    reasons: list[Reason]


def _linear(part: Mapping, row: Sequence[str]) -> tuple[float, list[float], list[float]]:
    """The model's output for ``row``, each feature's term, and each feature's average term."""
    terms, averages = [], []
    for feature, value in zip(FEATURES, row, strict=True):
        coef = part["coef"].get(feature, {})
        terms.append(coef.get(value, 0.0))
        shares = part["shares"].get(feature, {})
        averages.append(sum(share * coef.get(category, 0.0) for category, share in shares.items()))
    return part["intercept"] + sum(terms), terms, averages


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def _money(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(CENT, rounding=ROUND_HALF_UP)


def score_lead(params: Mapping, row: Sequence[str], *, stage: str) -> LeadScoreResult:
    """Score one lead (``row`` = its feature values in ``FEATURES`` order) at ``stage`` ("mql" or "sql")."""
    win = params["win_sql"] if stage == "sql" else params["win_mql"]
    value, v_terms, v_avg = _linear(params["value"], row)
    logit, w_terms, w_avg = _linear(win, row)
    p = _sigmoid(logit)
    expected = p * value
    reasons = []
    for j, feature in enumerate(FEATURES):
        without = _sigmoid(logit - w_terms[j] + w_avg[j]) * (value - v_terms[j] + v_avg[j])
        reasons.append(Reason(FEATURE_LABELS[feature], row[j], _money(expected - without)))
    reasons.sort(key=lambda r: (-abs(r.effect), r.feature))
    return LeadScoreResult(p, _money(value), _money(expected), [r for r in reasons[:REASONS] if r.effect != 0])


# --- the service: fetch, fit, score, write -------------------------------------------------------------------


def _account_rows() -> tuple[np.ndarray, np.ndarray]:
    from django.db.models import F, Value
    from django.db.models.functions import Coalesce

    from crm.models import Account

    rows = list(
        Account.objects.filter(acquired_on__isnull=False, snapshot__isnull=False)
        .annotate(value=F("snapshot__net_profit") + Coalesce(
            F("snapshot__clv_predictive"), F("snapshot__clv_formula"), Value(Decimal("0"))))
        .values("acquisition_channel__name", "industry", "region", "employee_band", "value")
        .order_by("id")
    )
    X = feature_matrix([{**r, "channel": r["acquisition_channel__name"]} for r in rows])
    return X, np.array([float(r["value"]) for r in rows], dtype=float)


def _closed_lead_rows() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from crm.models import Lead

    rows = list(
        Lead.objects.filter(stage__in=[Lead.Stage.WON, Lead.Stage.LOST])
        .values("channel__name", "industry", "region", "employee_band", "stage", "sql_at").order_by("id")
    )
    X = feature_matrix([{**r, "channel": r["channel__name"]} for r in rows])
    won = np.array([r["stage"] == Lead.Stage.WON for r in rows], dtype=bool)
    reached_sql = np.array([r["sql_at"] is not None or r["stage"] == Lead.Stage.WON for r in rows], dtype=bool)
    return X, won, reached_sql


class NotEnoughData(Exception):
    pass


def lead_scoring_train(*, now: datetime | None = None):  # type: ignore[no-untyped-def]
    """Train the value and win models on the book, store them, and score every open lead with them.

    Raises ``NotEnoughData`` with fewer than ``MIN_ROWS`` customers with figures or closed leads.
    """
    from django.db import transaction
    from django.utils import timezone

    from .models_analytics import LeadScoringModel

    now = now or timezone.now()
    X_accounts, value = _account_rows()
    X_leads, won, reached_sql = _closed_lead_rows()
    if value.size < MIN_ROWS:
        raise NotEnoughData(f"{value.size} customers with computed figures; at least {MIN_ROWS} are needed.")
    if won.size < MIN_ROWS:
        raise NotEnoughData(f"{won.size} closed leads; at least {MIN_ROWS} are needed.")
    value_params, value_metrics = fit_value_model(X_accounts, value)
    mql_params, mql_metrics = fit_win_model(X_leads, won)
    sql_params, sql_metrics = fit_win_model(X_leads[reached_sql], won[reached_sql])
    with transaction.atomic():
        model = LeadScoringModel.objects.create(
            trained_at=now,
            params={"features": list(FEATURES), "value": value_params, "win_mql": mql_params, "win_sql": sql_params},
            metrics={"value": value_metrics, "win_mql": mql_metrics, "win_sql": sql_metrics},
            train_size=value_metrics["n_train"], holdout_size=value_metrics["n_holdout"],
        )
        keep = LeadScoringModel.objects.order_by("-trained_at", "-pk").values_list("pk", flat=True)[:30]
        LeadScoringModel.objects.exclude(pk__in=list(keep)).exclude(pk=model.pk).delete()
    open_leads_score(now=now)
    return model


def open_leads_score(*, now: datetime) -> int:
    """(Re)score every open lead with the latest model; replaces all scores. Returns how many were scored."""
    from django.db import transaction

    from crm.models import EmployeeBand, Lead

    from .models_analytics import LeadScore, LeadScoringModel

    model = LeadScoringModel.objects.order_by("-trained_at", "-pk").first()
    if model is None:
        return 0
    leads = list(
        Lead.objects.filter(stage__in=[Lead.Stage.MQL, Lead.Stage.SQL])
        .values("id", "stage", "channel__name", "industry", "region", "employee_band")
    )
    rows = feature_matrix([{**r, "channel": r["channel__name"]} for r in leads])
    bands = dict(EmployeeBand.choices)
    scores = []
    for lead, row in zip(leads, rows, strict=True):
        result = score_lead(model.params, list(row), stage=lead["stage"])
        scores.append(LeadScore(
            lead_id=lead["id"], model=model, p_win=round(result.p_win, 6), predicted_value=result.predicted_value,
            expected_value=result.expected_value, scored_at=now,
            reasons=[{"feature": r.feature, "value": bands.get(r.value, r.value), "effect": str(r.effect)}
                     for r in result.reasons],
        ))
    with transaction.atomic():
        LeadScore.objects.all().delete()
        LeadScore.objects.bulk_create(scores, batch_size=2000)
    return len(scores)
