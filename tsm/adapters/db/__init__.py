"""Persistence: SQLModel tables, the engine, and the unit of work used by the services."""
