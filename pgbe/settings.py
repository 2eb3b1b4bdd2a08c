"""Settings every pgbe project shares; a project subclasses them in app/config/settings.py."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

DEFAULT_SECRET_KEY = "insecure-development-secret-change-me"  # noqa: S105 - refused outside development

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
Environment = Literal["development", "test", "production", "staging"]
ENV_FILE = ".env"


def project_root(start: Path | None = None) -> Path | None:
    """Return the project folder (alembic.ini beside app/) holding `start` (default: the working dir)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "alembic.ini").is_file() and (folder / "app").is_dir():
            return folder
    return None


class PgbeSettings(BaseSettings):
    """Database, server and security settings read from the environment and `.env`."""

    model_config = SettingsConfigDict(env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore")

    # Unset: production. Development (the published default SECRET_KEY, docs on, any Host) is only
    # ever chosen explicitly: by `.env`, ENVIRONMENT, `make run` or the test plugin (ENVIRONMENT=test).
    environment: Environment = "production"
    project_name: str = "pgbe"

    # Database. Unset: an embedded PostgreSQL (pgbe[embedded]) keeps its data in `embedded_data_dir`.
    database_url: str | None = None
    database_replica_urls: list[str] = Field(default_factory=list)
    # Embedded database (install): a relative folder is taken from the project root, whatever the
    # working directory; started by root, the server runs as `embedded_user` (an existing account).
    embedded_data_dir: Path = Path(".pgbe/data")
    embedded_user: str | None = None
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_pool_timeout: float = Field(default=5.0, gt=0)
    db_pool_recycle: int = Field(default=1800, description="Seconds before a pooled connection is replaced.")
    db_connect_timeout: int = Field(default=5, ge=1)
    db_statement_timeout_ms: int = Field(default=15_000, ge=0)
    db_idle_in_transaction_timeout_ms: int = Field(default=30_000, ge=0)
    db_async_pool_size: int = Field(default=10, ge=1)
    db_pgbouncer: bool = Field(default=False, description="A transaction-pooling PgBouncer is in front.")
    db_replica_max_lag_seconds: float = Field(default=10.0, ge=0)
    db_replica_connect_timeout: float = Field(default=2.0, gt=0, description="Seconds, then skipped.")
    # Migrations: wait at most this long for a lock, and bound each statement (0 = no limit).
    db_migration_lock_timeout_ms: int = Field(default=5_000, ge=0)
    db_migration_statement_timeout_ms: int = Field(default=300_000, ge=0)
    sql_echo: bool = False

    # HTTP
    max_body_bytes: int = Field(default=1_048_576, ge=1)
    http_body_timeout: float = Field(
        default=30.0, gt=0, description="Seconds to receive a whole request body."
    )
    page_default_limit: int = Field(default=50, ge=1)
    page_max_limit: int = Field(default=500, ge=1)
    # Lists at scale (pgbe.resources.counts, .cursors): how totals are counted, how deep offsets go.
    page_count: Literal["exact", "planned", "estimated", "none"] = Field(
        default="estimated",
        description="Totals of lists: exact up to page_count_threshold rows, the planner's estimate above.",
    )
    page_count_threshold: int = Field(
        default=10_000, ge=0, description="`estimated` counts exactly up to this many rows."
    )
    page_max_skip: int | None = Field(
        default=10_000, ge=0, description="A larger `skip` is a 422 naming the cursor; None: no limit."
    )
    # Costly lists (pgbe.resources.costly): those filtered by a substring search (contains, icontains)
    # or by a filter the index check found no index for. Each gets a time budget, cancelled by the
    # server past it (422 "narrow the filter"; 0: no budget but DB_STATEMENT_TIMEOUT_MS), and at most
    # filter_max_concurrency of them run at once per worker, beyond which one is answered 503 with
    # Retry-After at once (0: no bound). Fewer than the pool's connections, so that ordinary requests
    # always find one.
    filter_statement_timeout_ms: int = Field(default=2_000, ge=0)
    filter_max_concurrency: int = Field(default=4, ge=0)
    workers: int = Field(default=1, ge=1)
    host: str = "127.0.0.1"
    port: int = 8000

    # Security
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    access_token_minutes: int = Field(default=15, ge=1)
    refresh_token_days: int = Field(default=14, ge=1)
    redis_url: str | None = None
    login_max_failures: int = Field(default=5, ge=1, description="Failed sign-ins per account per window.")
    login_max_failures_per_client: int = Field(
        default=20, ge=1, description="Failed sign-ins per client address per window."
    )
    login_window_seconds: int = Field(default=900, ge=1, description="Throttling window for failed sign-ins.")
    first_admin_email: str | None = None
    first_admin_password: SecretStr | None = None
    # Authorization header schemes that carry an access token (`Token <jwt>` for clients that send it);
    # the first is the one WWW-Authenticate and OpenAPI name.
    auth_schemes: list[str] = Field(default_factory=lambda: ["Bearer"], min_length=1)
    # Password policy of new passwords: length and how many kinds of characters (lower case, upper
    # case, digits, others) a password mixes.
    password_min_length: int = Field(default=10, ge=1)
    password_max_length: int = Field(default=128, ge=1, le=1024)
    password_min_classes: int = Field(default=2, ge=1, le=4)
    # Each password hash (argon2, 64 MiB) in flight holds its memory: at most this many per worker,
    # beyond them a sign-in, sign-up or password change is answered 503 with Retry-After at once.
    password_hash_concurrency: int = Field(default=2, ge=1)
    # Requests per client ("N/second|minute|hour|day", the `limits` library's notation; unset: off),
    # counted in Redis when REDIS_URL is set, else in each worker's memory.
    signin_rate_limit: str | None = "30/minute"
    signup_rate_limit: str | None = "10/hour"
    anonymous_list_rate_limit: str | None = None
    # Production defaults (docs/auth.md "Production defaults"). Unset: on in development and test only.
    api_docs: bool | None = Field(default=None, description="Serve /docs, /redoc and /openapi.json.")
    # Host names this service answers to ("*.example.com" for subdomains, ["*"] for any); others get
    # 400. Unset: any host in development and test, loopback names only elsewhere.
    allowed_hosts: list[str] | None = None
    # Addresses of the proxies whose X-Forwarded-For / -Proto `pgbe run` believes (uvicorn's
    # FORWARDED_ALLOW_IPS: comma-separated addresses or networks, "*" for any); unset: none.
    forwarded_allow_ips: str = ""
    # Requests and connections one worker of `pgbe run` holds at once; beyond it 503 at once (0: no bound).
    server_max_concurrency: int = Field(default=1000, ge=0)

    # Operations (pgbe.observability): logs, metrics, traces, error reports, CORS, compression.
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="auto: readable text in development, one JSON object a line elsewhere."
    )
    log_level: str = "INFO"
    access_log: bool = Field(default=True, description="One line per request (logger pgbe.access).")
    slow_sql_ms: float = Field(
        default=500.0, ge=0, description="Statements slower than this are logged; 0: off."
    )
    metrics_enabled: bool = True
    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token of GET /metrics; unset: the route answers 404."
    )
    metrics_port: int | None = Field(
        default=None, description="`pgbe run` serves /metrics on this port too, on its own listener."
    )
    tracing_enabled: bool = Field(default=False, description="OpenTelemetry spans (extra pgbe[tracing]).")
    sentry_dsn: SecretStr | None = Field(default=None, description="Report unhandled errors to Sentry.")
    sentry_traces_sample_rate: float = Field(default=0.0, ge=0, le=1)
    cors_origins: list[str] = Field(default_factory=list, description="Allowed origins; [] turns CORS off.")
    cors_allow_credentials: bool = False
    cors_max_age: int = Field(default=600, ge=0)
    gzip_min_bytes: int = Field(
        default=1024, ge=0, description="Compress responses at least this large (gzip); 0: off."
    )

    # Admin site (pgbe.admin): origins besides the site's own whose pages may post its forms, e.g.
    # ["https://admin.example.com"] when a proxy changes the Host header it forwards.
    admin_trusted_origins: list[str] = Field(default_factory=list)

    # Indexes (pgbe.resources.indexes): at start-up, every allow-listed sort and filter that no index
    # serves is logged as a warning naming the index to add; "fail" refuses to start instead. Entries of
    # index_check_ignore ("tags" or "users.role") are never reported: a small table, a flag.
    index_check: Literal["off", "warn", "fail"] = "warn"
    index_check_ignore: list[str] = Field(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read `.env` from the project root rather than the working directory (unless told a file)."""
        root = project_root()
        default = isinstance(dotenv_settings, DotEnvSettingsSource) and dotenv_settings.env_file == ENV_FILE
        if default and root is not None:
            dotenv_settings = DotEnvSettingsSource(settings_cls, env_file=root / ENV_FILE)
        return init_settings, env_settings, dotenv_settings, file_secret_settings

    @model_validator(mode="after")
    def _anchor_embedded_data_dir(self) -> PgbeSettings:
        root = project_root()
        if root is not None and not self.embedded_data_dir.is_absolute():
            self.embedded_data_dir = root / self.embedded_data_dir
        return self

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> PgbeSettings:
        if self.environment != "development" and (
            self.secret_key.get_secret_value() == DEFAULT_SECRET_KEY
            or len(self.secret_key.get_secret_value()) < 32
        ):
            raise ValueError(
                f"SECRET_KEY must be set to a random value of at least 32 characters in {self.environment}"
                " (ENVIRONMENT unset is production; set ENVIRONMENT=development on a developer's machine)"
            )
        return self

    @field_validator("signin_rate_limit", "signup_rate_limit", "anonymous_list_rate_limit", mode="before")
    @classmethod
    def _empty_is_off(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _check_security_settings(self) -> PgbeSettings:
        from limits import parse

        for name in ("signin_rate_limit", "signup_rate_limit", "anonymous_list_rate_limit"):
            value = getattr(self, name)
            if value is not None:
                try:
                    parse(value)
                except ValueError as exc:
                    raise ValueError(f"{name.upper()}: {exc} (e.g. '10/minute')") from exc
        if self.password_min_length > self.password_max_length:
            raise ValueError("PASSWORD_MIN_LENGTH is larger than PASSWORD_MAX_LENGTH")
        return self

    @property
    def is_development(self) -> bool:
        """Tell whether this is a developer's machine."""
        return self.environment == "development"

    @property
    def trusting(self) -> bool:
        """Tell whether this environment gets the permissive defaults (development and test)."""
        return self.environment in ("development", "test")

    @property
    def docs_enabled(self) -> bool:
        """Tell whether /docs, /redoc and /openapi.json are served (API_DOCS, else development and test)."""
        return self.trusting if self.api_docs is None else self.api_docs

    @property
    def trusted_hosts(self) -> list[str]:
        """Return the Host names answered: ALLOWED_HOSTS, else any in development/test, else loopback."""
        if self.allowed_hosts is not None:
            return self.allowed_hosts
        return ["*"] if self.trusting else list(LOOPBACK_HOSTS)
