"""Development and test tools: not part of the product, never installed (not in pyproject's package list).

- ``graph_emulator/``: a local Microsoft Graph (calendar subset) for tests, benchmarks and hand-testing,
  ``python -m dev.graph_emulator --port 8765`` from the project root;
- ``echo_bot.py``: the botbuilder SDK's echo bot with its defaults, the yardstick of ``bench/bot_turns.py``.

Importable from the project root: pytest puts it on ``sys.path`` (``pythonpath`` in pyproject.toml), the bench
scripts insert it themselves.
"""
