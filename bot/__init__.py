"""Teams transport (issue 4). The only package that imports ``botbuilder``.

- ``runtime.py``: everything between Teams and ``Router.dispatch``, built from one Settings: the CloudAdapter, the
  ``POST /api/messages`` handler (bad input 4xx, never 500), the activity handler, the messenger, the file links;
- ``handler.py``: the ``TeamsActivityHandler`` that only converts (activity -> Incoming -> Reply -> activity or
  invoke response), identifies the sender, claims each activity once, stores conversation references;
- ``connector.py``: pooled connector clients over one aiohttp session, replies posted as JSON, signing keys kept
  fresh off the event loop;
- ``store.py``: idempotency claims and conversation references (group commit); ``identity.py``: batched AAD lookups;
- ``messenger.py``: proactive messages (``tsm.messaging.MessengerPort``) within Teams' limits;
- ``files.py``: ``.ics`` invitations as download links served by the bot.
"""
