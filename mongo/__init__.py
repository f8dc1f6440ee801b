"""MongoDB analytics store: documents built from the Postgres core, published idempotently,
and the four aggregation pipelines the course asks for.

Modules, in the order a record travels:

- ``schemas``   collection names, document shapes and their ``$jsonSchema`` validators
- ``indexes``   which indexes each collection carries and why; creating collections
- ``documents`` building one document per user / per title from Postgres
- ``publish``   idempotent bulk-upsert sync keyed on the ids, with content hashes
- ``pipelines`` the four aggregation pipelines, running them and saving their results
- ``sql_questions`` the same four questions in SQL (test oracle, benchmark competitor)
- ``compat``    small helpers that keep the code portable between MongoDB and nx-27017

Everything is plain MongoDB: it runs unchanged against a real server named by MONGODB_URI.
"""
