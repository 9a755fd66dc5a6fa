"""The router's turn guards, one ordered list: rate limit -> identify -> (the transport's claim) -> role check ->
handler. Each test names the property of the order it proves."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from tsm.chat.router import Incoming, Reply, Router, Who
from tsm.observability import Metrics
from tsm.services.actors import Actor
from tsm.settings import Settings

ALICE = Who(aad_object_id="aad-alice", tenant_id="t1")


def _services(**settings):
    return SimpleNamespace(settings=Settings(_env_file=None, **settings), metrics=Metrics())


class Recorder:
    """A router with one command per role set, and a transport's identify and claim that write down when they ran."""

    def __init__(self, actor: Actor | None, *, duplicate: bool = False) -> None:
        self.log: list[str] = []
        self.actor = actor
        self.duplicate = duplicate
        self.router = Router()

        @self.router.command("ping")
        async def ping(ctx, data):
            self.log.append("handler")
            return Reply(text="pong")

        @self.router.verb("officer.only", roles=("officer", "admin"))
        async def officer_only(ctx, data):
            self.log.append("handler")
            return Reply(text="done")

    async def identify(self, who: Who) -> Actor | None:
        self.log.append("identify")
        return self.actor

    async def claim(self, turn, next):
        self.log.append("claim")
        if self.duplicate:
            turn.outcome = "duplicate"
            return Reply(error=True)
        return await next()

    async def turn(self, services, **incoming) -> Reply:
        return await self.router.dispatch(
            Incoming(who=ALICE, **incoming),
            identify=self.identify,
            services=services,
            clock=lambda: datetime.now(UTC),
            claim=self.claim,
        )


def test_the_guards_are_one_ordered_list_rate_limit_identify_role_check():
    r = Router()
    assert r.middleware == [r.limit_rate, r.identify_sender, r.check_role]


async def test_a_handled_turn_is_identified_then_claimed_then_role_checked():
    rec = Recorder(Actor("contact", 1, 1, "Lead"))
    reply = await rec.turn(_services(), text="ping")
    assert reply.text == "pong" and rec.log == ["identify", "claim", "handler"]


async def test_a_rate_limited_turn_is_neither_identified_nor_claimed():
    rec = Recorder(Actor("contact", 1, 1, "Lead"))
    services = _services(chat_burst_turns=1, chat_burst_seconds=60, chat_sustained_turns=0)
    await rec.turn(services, text="ping")
    rec.log.clear()
    reply = await rec.turn(services, text="ping")
    assert reply.error and "faster than I can take them" in reply.text
    assert rec.log == []  # no directory read, no claim: no database work at all
    assert services.metrics.value("tsm_turns_total", kind="message", outcome="rate_limited") == 1


async def test_an_unknown_sender_is_claimed_then_told_whom_to_ask_and_never_handled():
    rec = Recorder(None)
    services = _services()
    reply = await rec.turn(services, text="ping")
    assert reply.error and "can't find you" in reply.text
    assert rec.log == ["identify", "claim"]  # claimed: a redelivery is answered once, the conversation kept
    assert services.metrics.value("tsm_turns_total", kind="message", outcome="unknown_user") == 1


async def test_the_role_check_comes_after_the_claim_and_before_the_handler():
    rec = Recorder(Actor("contact", 1, 1, "Lead"))
    reply = await rec.turn(_services(), verb="officer.only", data={})
    assert reply.error and "not open to you" in reply.text
    assert rec.log == ["identify", "claim"]
    rec.actor = Actor("officer", 2, None, "Officer")
    rec.log.clear()
    assert (await rec.turn(_services(), verb="officer.only", data={})).text == "done"
    assert rec.log == ["identify", "claim", "handler"]


async def test_a_redelivery_stops_at_the_claim_and_is_not_counted_as_a_turn():
    rec = Recorder(Actor("contact", 1, 1, "Lead"), duplicate=True)
    services = _services()
    await rec.turn(services, text="ping")
    assert rec.log == ["identify", "claim"]
    assert services.metrics.value("tsm_turns_total", kind="message", outcome="ok") == 0
    assert services.metrics.value("tsm_turns_total", kind="message", outcome="refused") == 0


async def test_middleware_added_with_use_runs_after_the_guards_before_the_handler():
    rec = Recorder(Actor("contact", 1, 1, "Lead"))

    @rec.router.use
    async def note(turn, next):
        rec.log.append(f"use:{turn.actor.kind}:{turn.route.data['args']}")
        return await next()

    await rec.turn(_services(), text="ping now")
    assert rec.log == ["identify", "claim", "use:contact:now", "handler"]
    rec.log.clear()
    await rec.turn(_services(), verb="officer.only", data={})  # refused by the role check: never reaches it
    assert rec.log == ["identify", "claim"]


async def test_without_a_role_check_in_the_list_no_handler_runs():
    rec = Recorder(Actor("contact", 1, 1, "Lead"))
    rec.router.middleware.remove(rec.router.check_role)
    reply = await rec.turn(_services(), verb="officer.only", data={})
    assert reply.error and "handler" not in rec.log
