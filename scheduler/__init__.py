"""Sweep jobs woken by APScheduler; the database holds what is due (issue 5)."""
