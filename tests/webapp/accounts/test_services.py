import pytest
from django.core.exceptions import ValidationError

from webapp.accounts.services import UserAlreadyExists, user_create


@pytest.mark.django_db
def test_user_create_normalises_email_and_hashes_password():
    user = user_create(email="  Ada@Example.COM ", password="analytical engine 1843")
    assert user.username == user.email == "ada@example.com"
    assert user.check_password("analytical engine 1843")
    assert not user.is_staff


@pytest.mark.django_db
def test_duplicate_email_is_refused():
    user_create(email="grace@example.com", password="cobol compiler 1959")
    with pytest.raises(UserAlreadyExists):
        user_create(email="GRACE@example.com", password="cobol compiler 1959")


@pytest.mark.django_db
def test_weak_password_is_refused():
    with pytest.raises(ValidationError):
        user_create(email="weak@example.com", password="password")
