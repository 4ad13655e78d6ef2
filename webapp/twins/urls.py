from django.urls import path

from webapp.twins import views

app_name = "twins"
urlpatterns = [
    path("", views.index, name="index"),
    path("train/", views.train, name="train"),
]
