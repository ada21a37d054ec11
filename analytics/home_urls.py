"""The home page, at the site's root (cpaas/urls.py includes this module by name)."""

from django.urls import path

from . import views

urlpatterns = [path("", views.home, name="home")]
