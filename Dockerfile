# One image for every process of the scale-out topology (compose.yaml, docs/operations.md).
# NOT EXERCISED on the machines this project is built on (a Docker client, no daemon): the tested
# path is the Procfile (`make scale`, tests/cpaas/test_procfile.py). Build and run it before
# relying on it.
FROM python:3.11.7-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=cpaas.settings.production \
    PATH=/venv/bin:$PATH

WORKDIR /app
# exactly the hashed lock file (the app's packages only; requirements-dev.lock adds the tests')
COPY requirements.lock ./
RUN python -m venv /venv && /venv/bin/pip install --require-hashes -r requirements.lock

COPY . .
# static files into the image (WhiteNoise serves them); the settings need these to load
RUN SECRET_KEY=build-only ALLOWED_HOSTS=localhost DATABASE_URL=sqlite:///:memory: \
    python manage.py collectstatic --noinput -v0

# not root: a user of its own, owning nothing but what it must write (nothing: logs go to stdout)
RUN useradd --system --uid 10001 --no-create-home --home-dir /app app
USER app

EXPOSE 8000
# the web process's liveness; compose.yaml gives the loops their own checks (manage.py health --loop)
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"
CMD ["python", "-m", "daphne", "-b", "0.0.0.0", "-p", "8000", "cpaas.asgi:application"]
