"""Django settings: every value comes from the project's one env contract (twin.settings)."""

from pathlib import Path

from twin.db import DatabaseUnavailable, database_url, django_database, embedded_server
from twin.settings import get_settings

_twin = get_settings()

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = _twin.secret_key.get_secret_value()
DEBUG = _twin.debug
ALLOWED_HOSTS = [host.strip() for host in _twin.allowed_hosts.split(",") if host.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "webapp.accounts",
    "webapp.sources",
    "webapp.collection",
    "webapp.compose",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "webapp.urls"
WSGI_APPLICATION = "webapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database_url() -> str:
    try:
        return database_url(_twin)
    except DatabaseUnavailable:
        # Not running yet (e.g. `manage.py check`): use the recorded address; connecting fails
        # later with Django's own error if the server is still down.
        state = embedded_server(_twin).read_state()
        if state is None:
            raise
        return state.url(_twin.db_name)


DATABASES = {"default": django_database(_database_url())}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = _twin.home / "static"
MEDIA_ROOT = _twin.home / "uploads"
LOGIN_URL = "/admin/login/"
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": _twin.log_level},
}
