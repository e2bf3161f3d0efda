"""The demo users (all with the published password ``tierwise-demo``), one per role the demo shows."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group

from crm.roles import Role

DEMO_PASSWORD = "tierwise-demo"  # noqa: S105 - the demo's published password


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    role: Role
    superuser: bool = False


DEMO_USERS = (
    DemoUser("admin", "Avery", "Quinn", Role.ADMIN, superuser=True),
    DemoUser("manager", "Maria", "Lindqvist", Role.ACCOUNT_MANAGER),
    DemoUser("manager2", "Jonas", "Becker", Role.ACCOUNT_MANAGER),
    DemoUser("manager3", "Chloe", "Martin", Role.ACCOUNT_MANAGER),
    DemoUser("manager4", "Daniel", "Okafor", Role.ACCOUNT_MANAGER),
    DemoUser("service", "Sam", "Rivera", Role.SERVICE),
)


def demo_users_ensure() -> dict[str, int]:
    """Create or reset the demo users (password, flags, exactly their role's group); return their ids."""
    user_model = get_user_model()
    password = make_password(DEMO_PASSWORD)  # hashed once: every demo user shares the known password
    ids = {}
    for spec in DEMO_USERS:
        group, _ = Group.objects.get_or_create(name=spec.role.value)
        user, _ = user_model.objects.update_or_create(
            username=spec.username,
            defaults={
                "first_name": spec.first_name,
                "last_name": spec.last_name,
                "email": f"{spec.username}@tierwise.example",
                "is_active": True,
                "is_staff": spec.superuser,
                "is_superuser": spec.superuser,
                "password": password,
            },
        )
        user.groups.set([group])
        ids[spec.username] = user.pk
    return ids
