"""HTTP glue: problem responses, health checks, body limits, ORM JSON encoding."""
