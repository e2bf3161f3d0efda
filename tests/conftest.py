"""Shared fixtures. Tests run on a real PostgreSQL (and real Redis where Celery is involved)."""

import pytest
from django.contrib.auth.models import Group

from crm.roles import Role

from .factories import UserFactory


@pytest.fixture(autouse=True, scope="session")
def _require_postgresql(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.exit(
            "Tierwise's tests run on PostgreSQL: set DATABASE_URL (the README's test command does this).",
            returncode=3,
        )


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):  # type: ignore[no-untyped-def]
    """Real hashing costs ~1 s per user on this machine; tests don't need its strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _reference_data(request):  # type: ignore[no-untyped-def]
    """Transactional tests flush the database; restore what the data migrations create (roles, tiers, rates)."""
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction")) or {
        "transactional_db", "live_server"} & set(request.fixturenames)
    if transactional:
        request.getfixturevalue("transactional_db")
        from django.apps import apps

        from crm.roles import sync_role_permissions
        from profitability.defaults import create_defaults

        sync_role_permissions(apps)
        create_defaults(apps)


def _user_with_role(username: str, role: Role | None):  # type: ignore[no-untyped-def]
    user = UserFactory(username=username, is_staff=role is Role.ADMIN)
    if role is not None:
        user.groups.add(Group.objects.get(name=role.value))
    return user


@pytest.fixture
def alice(db):  # type: ignore[no-untyped-def]
    """Alice is an account manager."""
    return _user_with_role("alice", Role.ACCOUNT_MANAGER)


@pytest.fixture
def bob(db):  # type: ignore[no-untyped-def]
    """Bob is another account manager (owns other accounts than Alice)."""
    return _user_with_role("bob", Role.ACCOUNT_MANAGER)


@pytest.fixture
def sam(db):  # type: ignore[no-untyped-def]
    """Sam works in service."""
    return _user_with_role("sam", Role.SERVICE)


@pytest.fixture
def ada(db):  # type: ignore[no-untyped-def]
    """Ada is an admin."""
    return _user_with_role("ada", Role.ADMIN)


@pytest.fixture
def nobody(db):  # type: ignore[no-untyped-def]
    """A logged-in user with no role."""
    return _user_with_role("nobody", None)
