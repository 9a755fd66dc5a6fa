"""Adapters: the database, the calendars (local and Microsoft Graph) and the messengers."""
