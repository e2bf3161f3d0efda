"""Who may do what in the campaigns app, beyond the role checks of ``crm.roles``."""

from typing import Any

from crm.models import Account
from crm.roles import Role, has_role


def can_work_on(user: Any, account: Account) -> bool:
    """Enrol, redeem and work opportunities: the account's own manager, or an admin."""
    return has_role(user, Role.ADMIN) or (has_role(user, Role.ACCOUNT_MANAGER) and account.owner_id == user.pk)
