from django.contrib import admin
from django.urls import path

from . import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("hello/", views.hello),
    path("form/", views.form),
    path("stream/", views.stream),
]
