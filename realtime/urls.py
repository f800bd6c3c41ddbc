from django.urls import path

from realtime import views

urlpatterns = [
    path("healthz", views.health, name="health"),
    path("", views.chat_page, name="chat"),
]
