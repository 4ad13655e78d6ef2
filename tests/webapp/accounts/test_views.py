import re

from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.webapp.conftest import PASSWORD, make_user


def test_sign_up_logs_in_and_lands_on_sources(client, db):
    response = client.post(
        reverse("accounts:signup"), {"email": "New.Person@Example.com", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302 and response.url == reverse("sources:index")
    user = get_user_model().objects.get(email="new.person@example.com")
    assert client.get(reverse("sources:index")).context["user"] == user


def test_sign_up_errors(client, db):
    make_user("taken@example.com")
    cases = [
        ({"email": "taken@example.com", "password1": PASSWORD, "password2": PASSWORD}, "already exists"),
        ({"email": "x@example.com", "password1": PASSWORD, "password2": PASSWORD + "!"}, "differ"),
        ({"email": "x@example.com", "password1": "password", "password2": "password"}, "too common"),
        ({"email": "not-an-email", "password1": PASSWORD, "password2": PASSWORD}, "valid email"),
    ]
    for data, message in cases:
        response = client.post(reverse("accounts:signup"), data)
        assert response.status_code == 400 and message in response.content.decode(), message


def test_login_with_any_case_email_and_logout(client, db):
    make_user("ada@example.com")
    response = client.post(reverse("accounts:login"), {"username": " ADA@example.com", "password": PASSWORD})
    assert response.status_code == 302 and response.url == reverse("compose:index")
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert client.get(reverse("compose:index")).status_code == 302
    bad = client.post(reverse("accounts:login"), {"username": "ada@example.com", "password": "nope"})
    assert bad.status_code == 200 and "correct email and password" in bad.content.decode().lower()


def test_every_page_requires_login(client, db):
    for name in ["compose:index", "sources:index", "collection:index", "library:index", "twins:index"]:
        response = client.get(reverse(name))
        assert response.status_code == 302 and response.url.startswith(reverse("accounts:login")), name


def test_password_change(user_client, user):
    response = user_client.post(
        reverse("accounts:password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a much longer new secret",
            "new_password2": "a much longer new secret",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a much longer new secret")


def test_password_reset_by_console_email(client, db, mailoutbox):
    user = make_user("reset@example.com")
    client.post(reverse("accounts:password_reset"), {"email": "reset@example.com"})
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["reset@example.com"]
    link = re.search(r"http://testserver(/accounts/password/reset/\S+/)", mailoutbox[0].body).group(1)
    form_url = client.get(link).url  # Django swaps the token for a session one
    response = client.post(
        form_url, {"new_password1": "brand new long secret", "new_password2": "brand new long secret"}
    )
    assert response.status_code == 302 and response.url == reverse("accounts:password_reset_complete")
    user.refresh_from_db()
    assert user.check_password("brand new long secret")
