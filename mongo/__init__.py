"""MongoDB analytics store: documents shaped from the dbt sync models, published idempotently,
and the four aggregation pipelines the course asks for.

Modules, in the order a record travels:

- ``schemas``   collection names, document shapes and their ``$jsonSchema`` validators
- ``indexes``   which indexes each collection carries and why; creating collections
- ``documents`` shaping one document per user / per title from dbt's ``sync_mongo_*`` models
- ``publish``   idempotent bulk-upsert sync keyed on the ids, with content hashes
- ``pipelines`` the four aggregation pipelines, running them and saving their results
- ``compat``    small helpers that keep the code portable between MongoDB and nx-27017

Everything is plain MongoDB: it runs unchanged against a real server named by MONGODB_URI.
"""
