"""The three roles of Tierwise, as Django groups, and the checks views use.

- Account managers log interactions, edit their own accounts and contacts, and read the rest.
- Service staff see accounts, tiers, entitlements and the service queue — never margins, costs or CLV.
- Admins configure tiers, cost rates, loyalty programs and campaigns, and use the Django admin.
"""

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied


class Role(StrEnum):
    ACCOUNT_MANAGER = "Account managers"
    SERVICE = "Service staff"
    ADMIN = "Admins"


# Model permissions per role: {app_label: {model: actions}}; "*" means every model of the app.
ROLE_PERMISSIONS: dict[Role, dict[str, dict[str, tuple[str, ...]]]] = {
    Role.ACCOUNT_MANAGER: {
        "crm": {
            "account": ("view", "change"),
            "accountsourceid": ("view",),
            "contact": ("view", "add", "change"),
            "product": ("view",),
            "interaction": ("view", "add", "change", "delete"),
            "servicecase": ("view", "add"),
            "surveyresponse": ("view", "add"),
            "lead": ("view", "add", "change"),
            "channel": ("view",),
            "marketingspend": ("view",),
        },
    },
    Role.SERVICE: {
        "crm": {
            "account": ("view",),
            "contact": ("view",),
            "product": ("view",),
            "interaction": ("view",),
            "servicecase": ("view", "add", "change"),
            "surveyresponse": ("view", "add"),
        },
    },
    Role.ADMIN: {
        "crm": {"*": ("view", "add", "change", "delete")},
        "profitability": {"*": ("view", "add", "change", "delete")},
        "campaigns": {"*": ("view", "add", "change", "delete")},
    },
}


def sync_role_permissions(apps: Any, schema_editor: Any = None) -> None:
    """Create the role groups and grant their model permissions (idempotent; used by data migrations).

    Permissions are normally created after migrations run, so create them first for every app the
    migration state knows; each later app's migration calls this again once its models exist.
    """
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        original = getattr(app_config, "models_module", None)
        app_config.models_module = original or True  # migration states leave it unset
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = original

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, grants in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role.value)
        wanted = []
        for app_label, models in grants.items():
            for model, actions in models.items():
                perms = permission_model.objects.filter(content_type__app_label=app_label)
                if model != "*":
                    perms = perms.filter(content_type__model=model)
                wanted += [p for p in perms if p.codename.split("_", 1)[0] in actions]
        group.permissions.add(*wanted)


def roles_of(user: Any) -> frozenset[Role]:
    """The user's roles, cached on the user object for the request. Superusers hold every role."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_tierwise_roles", None)
    if cached is None:
        if user.is_superuser:
            cached = frozenset(Role)
        else:
            names = set(user.groups.values_list("name", flat=True))
            cached = frozenset(role for role in Role if role.value in names)
        user._tierwise_roles = cached
    return cached


def has_role(user: Any, *roles: Role) -> bool:
    return bool(roles_of(user) & set(roles))


def can_see_financials(user: Any) -> bool:
    """Margins, costs and CLV are for account managers and admins only, never service staff alone."""
    return has_role(user, Role.ACCOUNT_MANAGER, Role.ADMIN)


def can_log_on(user: Any, account: Any) -> bool:
    """Account managers log interactions on the accounts they own; admins on any. Everybody else reads only."""
    return has_role(user, Role.ADMIN) or (has_role(user, Role.ACCOUNT_MANAGER) and account.owner_id == user.pk)


def may_log_complaint(user: Any, account: Any) -> bool:
    """Service staff (complaints come in on the phone), admins, and the account's own manager."""
    return has_role(user, Role.SERVICE, Role.ADMIN) or (
        has_role(user, Role.ACCOUNT_MANAGER) and account.owner_id == user.pk)


def role_required(*roles: Role) -> Callable:
    """View decorator: login first, then one of ``roles`` or a 403 page that explains which role is needed."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(request, *args, **kwargs):  # type: ignore[no-untyped-def]
            if not has_role(request.user, *roles):
                needed = " or ".join(role.value.lower() for role in roles)
                raise PermissionDenied(f"This page is for {needed}.")
            return view(request, *args, **kwargs)

        wrapped.required_roles = roles  # type: ignore[attr-defined]
        return wrapped

    return decorator
