"""URLs of this area (filled in by its views)."""

urlpatterns: list = []
