"""Writes of the admin configuration (tiers, cost rates, CLV settings) and the previews of their effect.

Every write is atomic, records who changed what through django-simple-history (the actor is set on each
instance, so it holds outside a request too), and enqueues a full recompute of the book only once the
transaction has committed. Nothing is written when validation fails.

The previews change nothing: they read the stored snapshots (one query, vectorised with NumPy) or count
interactions (one aggregate query) and say what a change would do before it is saved.
"""

from ..models import MAX_SLA_HOURS  # the tier form reads the service-level limit from here
from .clv import ClvSpec, clv_refit_request, clv_settings_save
from .common import ConfigurationError, SpecError
from .cost_rate_preview import CostRatePreview, cost_rate_preview
from .cost_rates import CostRateSpec, cost_rate_create, cost_rate_delete, cost_rate_errors
from .tier_preview import TierPreview, tiers_preview
from .tiers import TierSaveResult, TierSpec, tier_specs_current, tier_specs_errors, tiers_save

__all__ = [
    "MAX_SLA_HOURS",
    "ClvSpec",
    "ConfigurationError",
    "CostRatePreview",
    "CostRateSpec",
    "SpecError",
    "TierPreview",
    "TierSaveResult",
    "TierSpec",
    "clv_refit_request",
    "clv_settings_save",
    "cost_rate_create",
    "cost_rate_delete",
    "cost_rate_errors",
    "cost_rate_preview",
    "tier_specs_current",
    "tier_specs_errors",
    "tiers_preview",
    "tiers_save",
]
