"""The domain core: no SDK, no database, no event loop. Everything here is plain, testable Python."""
