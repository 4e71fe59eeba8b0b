"""The engines under every batch: paged export, bounded fan-out, and journaled writes with
their journals (SQLite, PostgreSQL).

They sit below the API sections, which run their own batches on them
(``stamps.add_many``, ``customers.export``...), and import only the core. The public
paths are ``stampsync.batch.*``, which re-export these modules as they are.
"""
