"""A bare botbuilder echo bot with the SDK's defaults: the yardstick ``bench/bot_turns.py`` measures us against.

Plain ``ActivityHandler`` + ``CloudAdapter(ConfigurationBotFrameworkAuthentication(...))`` + ``adapter.process``,
exactly as the SDK's samples wire it: a new ConnectorClient and user-token client per turn, the reply sent
through ``requests`` in a thread pool. A bench tool, not the product: it lives in ``dev/`` (never installed), the
one place outside ``bot/`` that imports botbuilder.
"""

from __future__ import annotations

from types import SimpleNamespace

from aiohttp import web
from botbuilder.core import ActivityHandler, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication


class EchoBot(ActivityHandler):
    async def on_message_activity(self, turn_context: TurnContext):
        await turn_context.send_activity(f"Echo: {turn_context.activity.text}")


def build_echo_web_app() -> web.Application:
    config = SimpleNamespace(APP_ID="", APP_PASSWORD="")  # no app id: the SDK's local no-auth mode
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(config))
    bot = EchoBot()

    async def messages(request: web.Request) -> web.Response:
        return await adapter.process(request, bot)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    return app
