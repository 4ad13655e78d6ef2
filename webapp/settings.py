"""Django settings: every value comes from the project's one env contract (twin.core.settings)."""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from twin.core.db import django_database, recorded_database_url
from twin.core.settings import SettingsError, get_settings, require_secrets
from twin.core.uploads import uploads_root

_twin = get_settings()
try:
    require_secrets(_twin, "secret_key", "serving_token", "database_url", component="The web app")
except SettingsError as exc:
    raise ImproperlyConfigured(str(exc)) from None

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
    "webapp.dataplane",
    "webapp.library",
    "webapp.twins",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files in every mode (gunicorn, runserver, docker)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "webapp.middleware.RequestBodyLimitMiddleware",  # before any view middleware parses a body
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
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
                "webapp.context_processors.twin_links",
            ],
        },
    },
]


# Not running yet (e.g. `manage.py check`): the recorded address, as this process's role; connecting
# fails later with Django's own error if the server is still down.
DATABASES = {"default": django_database(recorded_database_url(_twin))}
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
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = _twin.home / "static"  # `twin migrate` runs collectstatic into it
# WhiteNoise serves STATIC_ROOT (compressed copies, cache headers) and, for files collectstatic has
# not gathered yet (tests, a checkout before `twin migrate`), the app directories themselves.
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "compose:index"
LOGOUT_REDIRECT_URL = "accounts:login"
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = "LLM Twin <no-reply@localhost>"
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# The services the web app talks to (same env names as every other component; see .env.example).
TWIN_SERVING_URL = str(_twin.serving_url).rstrip("/")
TWIN_SERVING_TOKEN = _twin.serving_token.get_secret_value()
TWIN_SERVING_TIMEOUT_S = _twin.serving_timeout_s
TWIN_AIRFLOW_URL = str(_twin.airflow_url).rstrip("/")
TWIN_AIRFLOW_USER = _twin.airflow_user
TWIN_AIRFLOW_PASSWORD = _twin.airflow_password.get_secret_value()
TWIN_AIRFLOW_TIMEOUT_S = 10.0
# A pending request (Airflow was unreachable) is retried when its page is viewed at most this often.
TWIN_COLLECT_RETRY_AFTER_S = 15
TWIN_RAY_DASHBOARD_URL = str(_twin.ray_dashboard_url).rstrip("/")
# Export uploads: size limit, and where they are kept (outside the web root, one folder per user).
TWIN_IMPORT_MAX_BYTES = _twin.import_max_bytes
TWIN_UPLOAD_DIR = uploads_root(_twin)  # imported (and then deleted) by the twin_import DAG
FILE_UPLOAD_HANDLERS = [
    "webapp.sources.uploads.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
FILE_UPLOAD_PERMISSIONS = 0o600
# Bodies: the export upload (TWIN_IMPORT_MAX_BYTES) plus room for the form, refused above that
# before parsing (webapp/middleware.py); form fields other than files are small.
TWIN_MAX_REQUEST_BYTES = TWIN_IMPORT_MAX_BYTES + 1024 * 1024
TWIN_ANONYMOUS_MAX_REQUEST_BYTES = 64 * 1024  # multipart from a visitor who is not signed in
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
DATA_UPLOAD_MAX_NUMBER_FILES = 2

# (requests, seconds) per client IP and per account, for POSTs (webapp/ratelimit.py). Composing
# counts the prompt and its generation, so 60 an hour is about 30 posts.
# The rate limits' counters: files under TWIN_HOME, shared by every worker process of the host (gunicorn
# runs several). Several web hosts: point this at a cache they share (Redis, or Django's database cache).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(_twin.home / "cache" / "web"),
    }
}
RATE_LIMITS = {
    "login": {"ip": (20, 300), "account": (10, 900)},
    "signup": {"ip": (10, 3600)},
    "password_reset": {"ip": (10, 3600), "account": (3, 3600)},
    "compose": {"ip": (120, 3600), "account": (60, 3600)},
}
# Proxies in front of the web app that append to X-Forwarded-For (0: use the socket's peer address).
TWIN_TRUSTED_PROXY_HOPS = 0

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": _twin.log_level},
}
