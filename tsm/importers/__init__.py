"""Importers: bring outside data (term dates, schools) into the database, reporting bad rows by line."""
