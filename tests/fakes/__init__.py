"""What the tests stand in for, one of each: import these rather than writing another.

- ``fakes.clock``: the clock. Tests use the product's own :class:`tsm.clock.FixedClock` (set ``clock.now`` or
  ``clock.advance(...)``); :class:`fakes.clock.FakeClock`, a thin subclass, also reads as monotonic seconds and
  sleeps by moving on, for code that takes a monotonic clock or sleeps (the Graph busy cache, the rate limiters,
  the Teams messenger's retries).
- ``fakes.messenger``: :class:`ScriptedMessenger`, the delivery port (``tsm.messaging.MessengerPort``) that records
  what it is given and answers what the test scripted; options make it install-aware (like Teams: no
  conversation, no send), Teams-like with blocked conversations, blocking until released, failing, or refusing
  to be used at all.
- ``fakes.connector``: :class:`FakeConnector`, a Bot Connector on loopback for the real server and CloudAdapter
  (in the test's event loop, or in a thread of its own with :class:`ThreadServer` for servers in other
  processes), and the literal Teams activities the tests post.

The package sits in ``tests/`` (on ``sys.path`` under pytest, like ``factories``): ``from fakes.messenger import
ScriptedMessenger``.
"""
