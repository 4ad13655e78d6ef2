from django.urls import path

from webapp.compose import views
from webapp.ratelimit import rate_limited, signed_in_user

app_name = "compose"
urlpatterns = [
    path("", rate_limited("compose", signed_in_user)(views.index), name="index"),
    path("<int:prompt_id>/", views.prompt_detail, name="prompt"),
    path("<int:prompt_id>/generate/", rate_limited("compose", signed_in_user)(views.generate), name="generate"),
    path("<int:prompt_id>/delete/", views.prompt_delete, name="delete"),
    path("generations/<int:generation_id>/", views.generation_update, name="generation_update"),
]
