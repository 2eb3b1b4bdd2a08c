"""Test set-up: pgbe's pytest plugin, as every pgbe project uses it, plus the fault tests' fixtures.

The plugin creates and migrates one database per run on real PostgreSQL (TEST_DATABASE_URL's server or
a throwaway embedded one) and gives `db` (a rolled-back Session), `api` (an async client whose work is
rolled back), `bearer`, `engine`, `database_url`, `test_server` and `scratch_database`. The Conduit
example (`examples/conduit`) gets its own database and client (`tests/conduit_fixtures.py`).
"""

pytest_plugins = [
    "pgbe.testing.plugin",
    "tests.fault_fixtures",
    "tests.admin_fixtures",
    "tests.conduit_fixtures",
]
