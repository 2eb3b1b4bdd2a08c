# syntax=docker/dockerfile:1
# The service's image: pgbe and its runtime dependencies in a virtualenv, the project's code, a
# non-root user, and a health check on /health/ready. Build: docker build -t pgbe-example .
# pgbe's extras to install: the example app's admin site, and the optional integrations tracing
# (OpenTelemetry) and sentry. Not embedded (DATABASE_URL is set) nor lint, test or dev.
ARG PYTHON_VERSION=3.11
ARG PGBE_EXTRAS=admin,tracing,sentry

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ARG PGBE_EXTRAS
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
WORKDIR /src
# Dependencies first: this layer is rebuilt only when pyproject.toml changes.
COPY pyproject.toml README.md LICENSE ./
COPY pgbe/__init__.py pgbe/__init__.py
RUN /opt/venv/bin/pip install ".[${PGBE_EXTRAS}]" \
    && /opt/venv/bin/pip uninstall --yes pgbe
COPY pgbe ./pgbe
RUN /opt/venv/bin/pip install --no-deps ".[${PGBE_EXTRAS}]"

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
# The service runs as an unprivileged user that owns nothing but its scratch space.
RUN groupadd --system --gid 10001 pgbe \
    && useradd --system --uid 10001 --gid pgbe --no-create-home --home-dir /nonexistent pgbe
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv
COPY alembic.ini pyproject.toml ./
COPY app ./app
COPY migrations ./migrations
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENVIRONMENT=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    WORKERS=2 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/pgbe-metrics
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8000')}/health/ready\", timeout=2)"]
# Migrations run once per deploy, before the new version starts (compose: the `migrate` service);
# `pgbe run` would apply them too, but several replicas starting at once should not race for them.
CMD ["pgbe", "run", "--no-migrate"]
