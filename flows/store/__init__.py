"""The audit store: what every run read, kept as a log of changes (SQLite or PostgreSQL)."""
