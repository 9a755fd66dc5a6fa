"""HTTP endpoints of the TSM service other than the bot's own (mounted by the main aiohttp server)."""
