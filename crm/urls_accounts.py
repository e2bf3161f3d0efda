"""Record actions on one account: its timeline pages, logging interactions and survey answers, correcting and
deleting interactions, creating and editing the account, and its contacts."""

from django.urls import path

from . import views_accounts as views

urlpatterns = [
    path("accounts/new", views.account_create_view, name="account_create"),
    path("accounts/<int:pk>/edit", views.account_edit_view, name="account_edit"),
    path("accounts/<int:pk>/interactions/", views.interaction_list, name="interaction_list"),
    path("accounts/<int:pk>/interactions/new", views.interaction_create, name="interaction_create"),
    path("accounts/<int:pk>/interactions/<int:iid>/", views.interaction_row, name="interaction_row"),
    path("accounts/<int:pk>/interactions/<int:iid>/edit", views.interaction_edit, name="interaction_edit"),
    path("accounts/<int:pk>/interactions/<int:iid>/delete", views.interaction_delete_view, name="interaction_delete"),
    path("accounts/<int:pk>/surveys/new", views.survey_create, name="survey_create"),
    path("accounts/<int:pk>/contacts/", views.contact_list, name="contact_list"),
    path("accounts/<int:pk>/contacts/new", views.contact_create_view, name="contact_create"),
    path("accounts/<int:pk>/contacts/<int:cid>/edit", views.contact_edit_view, name="contact_edit"),
    path("accounts/<int:pk>/contacts/<int:cid>/delete", views.contact_delete_view, name="contact_delete"),
]
