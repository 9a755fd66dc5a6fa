"""Adaptive Cards as functions from small typed views to dicts (issue 4)."""
