"""Rules the database enforces for auth, whatever writes the row: session revocation, email identity.

Migrations create them with these statements (`op.execute(...)`), so a project's schema and pgbe's
queries agree on one expression.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Index, func, literal_column, text

EMAIL_KEY = "lower(normalize(email, NFKC))"
"""The identity of an email: case and compatibility forms (fullwidth letters) folded. Immutable."""
EMAIL_INDEX = "uq_users_email_key"


def email_key(value: Any) -> ColumnElement[str]:
    """EMAIL_KEY of a column or a value, as a SQLAlchemy expression (the index's expression)."""
    return func.lower(func.normalize(value, literal_column("NFKC")))


def email_index() -> Index:
    """The unique index on EMAIL_KEY, for the users model's `__table_args__` (migrations create it)."""
    return Index(EMAIL_INDEX, text(EMAIL_KEY), unique=True)


CREATE_EMAIL_INDEX = "CREATE UNIQUE INDEX uq_users_email_key ON users (lower(normalize(email, NFKC)))"
DROP_EMAIL_INDEX = "DROP INDEX uq_users_email_key"
DUPLICATE_EMAILS = (
    "SELECT lower(normalize(email, NFKC)) AS key, array_agg(id ORDER BY id) AS ids FROM users"
    " GROUP BY 1 HAVING count(*) > 1 ORDER BY 1"
)

# Deactivating an account or giving it a new password (a new hash in a new version of the row; a
# rehash on sign-in keeps the version) revokes every sign-in session of it, which ends its access
# tokens too (see pgbe.auth.guard).
CREATE_SESSION_TRIGGER = (
    """
CREATE FUNCTION users_revoke_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE refresh_tokens SET revoked_at = now(), updated_at = now()
    WHERE user_id = NEW.id AND revoked_at IS NULL;
    RETURN NULL;
END
$$
""",
    """
CREATE TRIGGER users_revoke_sessions AFTER UPDATE OF is_active, hashed_password ON users
FOR EACH ROW WHEN (
    (OLD.is_active AND NOT NEW.is_active)
    OR (NEW.hashed_password IS DISTINCT FROM OLD.hashed_password AND NEW.version IS DISTINCT FROM OLD.version)
) EXECUTE FUNCTION users_revoke_sessions()
""",
)
DROP_SESSION_TRIGGER = (
    "DROP TRIGGER users_revoke_sessions ON users",
    "DROP FUNCTION users_revoke_sessions()",
)
