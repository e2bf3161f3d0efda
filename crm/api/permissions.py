"""Who may reach which endpoint and action, and change which object.

Each view declares the roles of each action in ``roles`` ({action: roles}; ``"read"`` covers list and
retrieve, ``"write"`` every other action unless named). The permission class checks them before any
object is loaded, so a user without the role gets 403 whatever the id. A view with ``reauth_writes`` (the
configuration) also refuses writes from a browser session whose password was not confirmed recently.
Querysets are scoped per role in the views (``get_queryset``); an object the user can see but not change
gives 403 with the reason, one the user cannot see gives 404.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission

from crm.models import Account
from crm.reauth import recently_authenticated
from crm.roles import Role, has_role

READ_ACTIONS = frozenset({"list", "retrieve"})
AM, SERVICE, ADMIN = Role.ACCOUNT_MANAGER, Role.SERVICE, Role.ADMIN
EVERY_ROLE = (AM, SERVICE, ADMIN)
MONEY_ROLES = (AM, ADMIN)


def roles_for(view: Any, action: str | None, method: str) -> tuple[Role, ...]:
    """The roles allowed to run ``action`` on ``view`` (nobody when the view does not say)."""
    table: dict[str, tuple[Role, ...]] = getattr(view, "roles", {})
    if action in table:
        return table[action]
    if action in READ_ACTIONS or (action is None and method in SAFE_METHODS):
        return table.get("read", ())
    return table.get("write", ())


class RolePermission(BasePermission):
    """Role per action first (403 before any lookup); then the view's own object rule for writes."""

    message = "Your role does not give access to this."

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        user = request.user
        if not (user and user.is_authenticated):
            return False
        roles = roles_for(view, getattr(view, "action", None), request.method)
        if not has_role(user, *roles):
            needed = " or ".join(r.value.lower() for r in roles) or "nobody"
            self.message = f"This is for {needed}."
            return False
        if getattr(view, "reauth_writes", False) and request.method not in SAFE_METHODS and _stale_session(request):
            self.message = (f"Confirm your password first ({reverse('reauth_confirm')}): configuration changes "
                            "from a browser session need a recent password confirmation.")
            return False
        return True

    def has_object_permission(self, request, view, obj) -> bool:  # type: ignore[no-untyped-def]
        if request.method in SAFE_METHODS and getattr(view, "action", None) in READ_ACTIONS | {None}:
            return True
        check = getattr(view, "may_change", None)
        if check is None:
            return True
        reason = check(request.user, obj)
        if reason:
            self.message = reason
            return False
        return True


def _stale_session(request) -> bool:  # type: ignore[no-untyped-def]
    """A browser session (not a token) whose password was not confirmed recently: as on the settings pages,
    a stolen idle session must not reconfigure anything. Tokens are issued to integrations deliberately."""
    return isinstance(request.successful_authenticator, SessionAuthentication) and not recently_authenticated(
        request)


def owns_or_admin(user: Any, account: Account | None) -> bool:
    """Account managers change the records of the accounts they own; admins any account's."""
    if has_role(user, ADMIN):
        return True
    return account is not None and has_role(user, AM) and account.owner_id == user.pk


def account_refusal(user: Any, account: Account | None, what: str) -> str:
    """'' when ``user`` may change ``what`` on ``account``; else the reason, naming the account's manager."""
    if owns_or_admin(user, account):
        return ""
    if account is None:
        return f"Only admins can change {what} without an account."
    owner = account.owner
    who = (owner.get_full_name() or owner.username) if owner else "unassigned"
    return f"Only the account's manager ({who}) or an admin can change {what} on {account.name}."
