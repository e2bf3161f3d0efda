from django.conf import settings
from django.http import HttpRequest

from .roles import Role, can_see_financials, roles_of


def tierwise(request: HttpRequest) -> dict:
    roles = roles_of(request.user)
    return {
        "currency": settings.TIERWISE_CURRENCY,
        "user_roles": {role.name.lower() for role in roles},
        "is_account_manager": Role.ACCOUNT_MANAGER in roles,
        "is_service": Role.SERVICE in roles,
        "is_admin_role": Role.ADMIN in roles,
        "can_see_financials": can_see_financials(request.user),
    }
