from django.urls import path

from webapp.sources import views

app_name = "sources"
urlpatterns = [
    path("", views.index, name="index"),
    path("<int:source_id>/edit/", views.edit, name="edit"),
    path("<int:source_id>/delete/", views.delete, name="delete"),
    path("uploads/", views.upload, name="upload_create"),
    path("uploads/<int:upload_id>/", views.upload_detail, name="upload"),
    path("uploads/<int:upload_id>/delete/", views.upload_delete, name="upload_delete"),
]
