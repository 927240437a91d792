"""The control plane: workers claim queued runs and execute them, the scheduler queues cron runs.

Everything here talks to PostgreSQL directly (asyncpg): the run state machine, event numbering
and announcements live in the database (migrations/0002), so the worker, the API and a console
session all obey the same rules.
"""
