"""Portal pages of the notifications app (callauto/urls.py composes them under /portal/)."""

urlpatterns: list = []
