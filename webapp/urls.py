from django.contrib import admin
from django.urls import include, path

from webapp.accounts.views import home

admin.site.site_header = "LLM Twin administration"
admin.site.site_title = "LLM Twin admin"
admin.site.index_title = "Users, sources, collection and posts"

urlpatterns = [
    path("", home, name="home"),
    path("accounts/", include("webapp.accounts.urls")),
    path("sources/", include("webapp.sources.urls")),
    path("collect/", include("webapp.collection.urls")),
    path("library/", include("webapp.library.urls")),
    path("compose/", include("webapp.compose.urls")),
    path("twin/", include("webapp.twins.urls")),
    path("admin/", admin.site.urls),
]
