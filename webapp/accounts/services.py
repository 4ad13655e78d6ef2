"""Writes for accounts. Django owns users; the data plane refers to them by ``User.id``."""

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction


class UserAlreadyExists(ValueError):
    pass


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValueError(f"{email!r} is not a valid email address") from exc
    return email


@transaction.atomic
def user_create(*, email: str, password: str, is_staff: bool = False):
    User = get_user_model()
    email = normalise_email(email)
    if User.objects.filter(username=email).exists():
        raise UserAlreadyExists(f"a user with email {email} already exists")
    user = User(username=email, email=email, is_staff=is_staff, is_superuser=is_staff)
    validate_password(password, user)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user
