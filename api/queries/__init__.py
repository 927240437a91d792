"""Hand-written SQL for the hot listings: each query is shaped to walk one index in order."""
