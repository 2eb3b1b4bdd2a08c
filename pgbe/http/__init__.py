"""HTTP glue: problem responses, health checks, body limits, ORM JSON encoding."""

# RFC 9110 safe methods: they change nothing, so they need no rollback and no read-your-writes token.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
