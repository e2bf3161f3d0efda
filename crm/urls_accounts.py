"""Record actions on one account: its timeline pages, logging interactions and survey answers."""

from django.urls import path

from . import views_accounts

urlpatterns = [
    path("accounts/<int:pk>/interactions/", views_accounts.interaction_list, name="interaction_list"),
    path("accounts/<int:pk>/interactions/new", views_accounts.interaction_create, name="interaction_create"),
    path("accounts/<int:pk>/surveys/new", views_accounts.survey_create, name="survey_create"),
]
