from django.urls import path

from webapp.collection import views

app_name = "collection"
urlpatterns = [
    path("", views.index, name="index"),
    path("now/", views.collect_now, name="now"),
    path("<int:request_id>/", views.detail, name="detail"),
    path("<int:request_id>/status/", views.status, name="status"),
]
