"""Settings shared by every mode. Environment variables (django-environ) switch the mode:
DATABASE_URL moves from embedded SQLite to PostgreSQL, REDIS_URL moves the channel layer,
the task broker and the cache to Redis."""

import datetime as dt
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():  # optional; absent in CI
    environ.Env.read_env(BASE_DIR / ".env")

SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-change-me-in-production-0123456789")
DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",  # first, so runserver is the ASGI one (STACK.md)
    "django.contrib.admin",  # staff only; the product's models read-only (cpaas/admin.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served locally, no CDN
    "django_htmx",
    "template_partials",
    "django_q",
    "channels",
    "axes",  # log-in throttling (cpaas/lockout.py)
    "csp",
    "django_prometheus",  # request, response and database metrics at /metrics (cpaas/metrics.py)
    "cpaas",
    "contacts",
    "consent",
    "channels_app",
    "experiments",
    "journeys",
    "inbox",
    "analytics",
]

MIDDLEWARE = [
    "cpaas.health.HealthMiddleware",  # /healthz, /readyz: before the host check and HTTPS redirect
    "cpaas.logs.RequestIdMiddleware",  # X-Request-ID on every log line a request causes
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "cpaas.api.middleware.ApiErrorMiddleware",  # before the rest: every /api/ error answer is the JSON body
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "cpaas.tenancy.WorkspaceMiddleware",
    "axes.middleware.AxesMiddleware",  # turns a lockout into the locked-out log-in page
    "django_prometheus.middleware.PrometheusAfterMiddleware",  # last: sees every response
]

ROOT_URLCONF = "cpaas.urls"
ASGI_APPLICATION = "cpaas.asgi.application"
WSGI_APPLICATION = "cpaas.wsgi.application"

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
                "cpaas.tenancy.workspace_context",
                "cpaas.security.csp_nonce",
            ],
            "builtins": ["template_partials.templatetags.partials", "cpaas.templatetags.ui"],
        },
    }
]

# --- Content-Security-Policy (django-csp), in every mode so browser tests see violations ----------
# Scripts only from this site or with the per-response nonce ({% htmx_script %} reads it from the
# context); no inline handlers, no eval (htmx's allowEval is off in base.html's htmx-config meta).
# Styles likewise: no style attributes or <style> without the nonce (scripts may still set styles
# through the DOM). frame-ancestors: only the editor's simulator may be framed, by this site
# (journeys/editor/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- database -------------------------------------------------------------------------------
SQLITE_OPTIONS = {
    # WAL + IMMEDIATE transactions: without them "database is locked" appears under 4 workers.
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
}
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# PostgreSQL connections are bounded in every process. The web process borrows them from a
# psycopg pool (DB_POOL, which cpaas/asgi.py turns on): under ASGI each request runs in a new
# thread, so kept per-thread connections piled up until PostgreSQL's 100 slots were gone and
# requests failed with 500. With the pool a request waits for a free connection instead
# (DB_POOL_TIMEOUT), so under load the app answers slower, not with errors. The loops and the
# task worker run a fixed, small number of threads, each keeping one connection (CONN_MAX_AGE).
DB_POOL = env.bool("DB_POOL", default=False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {**SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DB_POOL:
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them: "closing" gives one back
        DATABASES["default"]["OPTIONS"] = {
            **DATABASES["default"].get("OPTIONS", {}),
            "pool": {
                "min_size": env.int("DB_POOL_MIN", default=2),
                "max_size": env.int("DB_POOL_MAX", default=16),
                "timeout": env.float("DB_POOL_TIMEOUT", default=60.0),
            },
        }
    else:
        # django-q2's ORM broker opens a connection per poll without a kept connection.
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
IS_SQLITE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis: channel layer, broker, cache ----------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")

# Messages a socket may have waiting before the layer drops new ones (channels' default is 100,
# which lost most of a burst of a few thousand events before the socket could drain them).
REALTIME_CHANNEL_CAPACITY = env.int("REALTIME_CHANNEL_CAPACITY", default=20000)

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8 gives up reading after 5 s (socket_timeout) while channels_redis
                # blocks 5 s in BZPOPMIN (brpop_timeout) waiting for a socket's next message: the
                # read timed out first, the consumer died with TimeoutError and its page stopped
                # updating. Reads may take longer than the blocking wait; connecting may not.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 5}],
                "capacity": REALTIME_CHANNEL_CAPACITY,
            },
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # In-memory layer per web process; worker processes reach it through the realtime relay
    # (cpaas/realtime.py).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": REALTIME_CHANNEL_CAPACITY},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

Q_CLUSTER = {
    "name": "cpaas",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": 1800,  # a 100,000-row import fits comfortably
    "retry": 1900,  # keep retry > timeout (STACK.md)
    "max_attempts": 1,
    "save_limit": -1,  # failures are still saved; successes are not (STACK.md: 4x faster)
    "catch_up": False,
    "poll": 0.2,
    "label": "Tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    # the ORM broker, but surviving a lost database with one log line per incident and a heartbeat
    Q_CLUSTER["broker_class"] = "cpaas.taskbroker.GuardedORM"

# Realtime relay (embedded mode): how often each web process looks for new events.
REALTIME_RELAY_INTERVAL = env.float("REALTIME_RELAY_INTERVAL", default=0.1)
REALTIME_MODE = "redis" if REDIS_URL else "relay"

# --- auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes: failed log-ins are counted per user name + client address and per user name (a
# guesser rotating addresses is stopped too); a lock lasts the cool-off after the last failure, or
# until a workspace admin unlocks the user (Settings › Users) or `manage.py axes_reset_username`.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "cpaas.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "cpaas.lockout.client_ip"
AXES_VERBOSE = False
# Reverse proxies in front of the app that append to X-Forwarded-For (0: use REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Private networks a channel's provider API base may point at (CIDRs; public addresses always may).
CHANNELS_PROVIDER_ALLOWED_NETWORKS = env.list("CHANNELS_PROVIDER_ALLOWED_NETWORKS", default=[])
INVITATION_VALID_DAYS = env.int("INVITATION_VALID_DAYS", default=7)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- email (invitations) -------------------------------------------------------------------
# EMAIL_URL: smtp://user:password@host:587 or submissions:// (TLS); the console by default.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="journeys@localhost")

# --- i18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- static and uploads ---------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve straight from static/ when collectstatic has not run
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
CONTACT_IMPORT_MAX_BYTES = env.int("CONTACT_IMPORT_MAX_BYTES", default=50 * 1024 * 1024)

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cpaas.api.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["cpaas.api.permissions.WorkspaceMember"],
    "DEFAULT_THROTTLE_CLASSES": ["cpaas.api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": env("API_TOKEN_RATE", default="1200/min")},
    "DEFAULT_PAGINATION_CLASS": "cpaas.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "cpaas.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON, read through cpaas.jsoninput (depth, size, unstorable text: a 400 saying what); an
    # empty form is an empty body, a form with fields a 415
    "DEFAULT_PARSER_CLASSES": [
        "cpaas.api.parsers.JSONParser",
        "cpaas.api.parsers.EmptyFormParser",
        "cpaas.api.parsers.EmptyMultiPartParser",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CPaaS Journeys API",
    "DESCRIPTION": (
        "Contacts and events, messages and OTP verification, consent, journeys (start, test, publish, "
        "counts), A/B experiments and the inbox's conversations. Authenticate with a workspace token: "
        "`Authorization: Bearer cpk_...`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "PARSER_WHITELIST": ["cpaas.api.parsers.JSONParser"],  # bodies are JSON (an empty form is tolerated)
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "cpaas.api.schema.document_error_answers",  # 401/403/429/... on every operation
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# The journey engine's runaway guard (docs/journeys.md): an enrolment fails when it enters one
# node this many times without waiting in between, or takes more steps than this in the window.
JOURNEYS_MAX_NODE_VISITS = env.int("JOURNEYS_MAX_NODE_VISITS", default=10)
JOURNEYS_MAX_STEPS_PER_WINDOW = env.int("JOURNEYS_MAX_STEPS_PER_WINDOW", default=100)
JOURNEYS_STEP_WINDOW_S = env.int("JOURNEYS_STEP_WINDOW_S", default=60)

# Timers prepared ahead and fired at their instant (journeys/engine/ahead.py, PostgreSQL only):
# how far ahead an idle engine looks, and at most how many it prepares in one transaction.
JOURNEYS_ENGINE_LOOKAHEAD_S = env.float("JOURNEYS_ENGINE_LOOKAHEAD_S", default=10.0)
JOURNEYS_ENGINE_AHEAD_BATCH = env.int("JOURNEYS_ENGINE_AHEAD_BATCH", default=10_000)

# --- health (cpaas/health.py): what /readyz requires -------------------------------------------
# Loop kinds that must have a process beating within HEALTH_HEARTBEAT_STALE_S (loops beat every 2 s).
HEALTH_REQUIRED_LOOPS = env.list("HEALTH_REQUIRED_LOOPS", default=["engine", "dispatcher"])
HEALTH_HEARTBEAT_STALE_S = env.float("HEALTH_HEARTBEAT_STALE_S", default=30.0)
HEALTH_LIMITS = {
    # seconds the oldest due enrolment has waited for the engine (timers, replies, starts)
    "engine.lag_s": env.float("HEALTH_MAX_ENGINE_LAG_S", default=60.0),
    # seconds the oldest due queued message has waited for the dispatcher (a channel's rate limit
    # ages a big campaign's backlog on purpose: raise it where campaigns outrun their channels)
    "dispatch.backlog_s": env.float("HEALTH_MAX_DISPATCH_BACKLOG_S", default=300.0),
}

# --- logs (cpaas/logs.py) and errors (cpaas/sentry.py) -----------------------------------------
# Every line carries the request id (X-Request-ID) and is masked (phone numbers, emails, message
# text). LOG_FORMAT=json gives one JSON object a line (production's default), text the message.
LOG_FORMAT = env("LOG_FORMAT", default="text")

# /metrics (cpaas/metrics.py): with a token, only `Authorization: Bearer <METRICS_TOKEN>` may read
# it; without one, only requests from this host.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "cpaas.logs.RequestIdFilter"},
        "personal_data": {"()": "cpaas.logs.PersonalDataFilter"},
    },
    "formatters": {
        "text": {"()": "cpaas.logs.TextFormatter", "format": "%(message)s"},
        "json": {
            "()": "cpaas.logs.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(process)d %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id", "personal_data"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}

SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    from cpaas.sentry import init as sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        environment=env("SENTRY_ENVIRONMENT", default=""),
        release=env("SENTRY_RELEASE", default=""),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )
