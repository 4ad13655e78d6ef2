"""Every model in the admin lists, searches and opens for a superuser (data-plane ones read-only)."""

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.webapp import dataplane_rows
from tests.webapp.conftest import make_user
from webapp.compose.services import generate, prompt_create
from webapp.sources.services import source_create


@pytest.fixture
def admin_client(client, db):
    client.force_login(make_user(is_staff=True))
    return client


def test_every_registered_model_lists_and_searches(admin_client, user, serving, airflow_down):
    source_create(user=user, platform="github", url="ada")
    generate(prompt=prompt_create(user=user, text="hello"))
    dataplane_rows.document(user.pk, "https://medium.com/@ada/p", title="A post")
    dataplane_rows.registry_model(user.pk)
    for model in admin.site._registry:
        meta = model._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        assert admin_client.get(url).status_code == 200, url
        assert admin_client.get(url, {"q": "ada"}).status_code == 200, url


def test_data_plane_models_are_read_only(admin_client, user):
    dataplane_rows.document(user.pk, "https://medium.com/@ada/p", title="A post")
    assert admin_client.get(reverse("admin:dataplane_rawdocument_add")).status_code == 403
    from webapp.dataplane.models import RawDocument

    document = RawDocument.objects.filter(user_id=user.pk).first()
    with pytest.raises(TypeError):
        document.save()
    assert admin_client.get(reverse("admin:dataplane_rawdocument_change", args=[document.pk])).status_code == 200


def test_non_staff_cannot_open_the_admin(user_client):
    response = user_client.get(reverse("admin:index"))
    assert response.status_code == 302 and "login" in response.url
