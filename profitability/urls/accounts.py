"""The account manager's pages: the account list, the account page and its live figures."""

from django.urls import path

from ..views import accounts

urlpatterns = [
    path("accounts/", accounts.account_list, name="account_list"),
    path("accounts/<int:pk>/", accounts.account_detail, name="account_detail"),
    path("accounts/<int:pk>/figures/", accounts.account_figures, name="account_figures"),
]
