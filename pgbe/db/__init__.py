"""The database layer: URLs, connections, the `Database` of a project, replicas, errors, transactions."""
