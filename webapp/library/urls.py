from django.urls import path

from webapp.library import views

app_name = "library"
urlpatterns = [
    path("", views.index, name="index"),
    path("<str:doc_id>/", views.document, name="document"),
]
