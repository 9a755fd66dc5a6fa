"""The conversation core: what the bot does with a message or a card action, with no SDK in sight.

``bot/`` (the only package importing ``botbuilder``) turns a Teams activity into an :class:`Incoming`,
calls :meth:`Router.dispatch`, and turns the :class:`Reply` back into an activity or an invoke response.
Features register their text commands and card verbs on the one :class:`Router` (see ``router.py``), the
way bolt-python's listeners do: every verb a card emits has exactly one handler.
"""

from .router import ChatContext, Incoming, Reply, Router, Who

__all__ = ["ChatContext", "Incoming", "Reply", "Router", "Who"]
