"""Compilers from a validated spec to engine artifacts: a Spark plan, Flink SQL, SeaTunnel HOCON.

Every compiler is deterministic (same input → byte-identical output) and leaves secrets as
placeholders.
"""
