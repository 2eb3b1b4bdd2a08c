"""The database layer: URLs, connections, the `Database` of a project, replicas, errors, transactions.

In the order of their imports: `urls` and `read_state` (the request's read state) are leaves;
`connections` (the one factory of engines and pools) uses `urls`; `replicas` is given a factory;
`read_session` is given the primary's engine and the replicas; `database` builds all of them and
lends every connection through `Database.borrow`. Beside them: `errors` (translation, `translated()`),
`transactions`, `batches`, `embedded`. `lint-imports` checks that no import goes back up.
"""
