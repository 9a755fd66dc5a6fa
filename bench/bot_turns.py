"""Bot turns per second and latency: booking-flow turns through our server vs a bare botbuilder echo bot.

    .venv/bin/python bench/bot_turns.py [--turns 400] [--repeat 3] [--concurrency 8] [--users 8] [--pg [ADMIN_URL]]

Everything runs on loopback. One process runs the bots: our server (``tsm.composition.compose`` + ``tsm.server.web_app_for``: the real
CloudAdapter, the database on an embedded SQLite file with the demo LA, or with ``--pg`` a throw-away PostgreSQL
database, the booking flows of ``tsm.chat``) and the
SDK's echo bot with its defaults (``dev/echo_bot.py``); this one runs the clients and a fake Bot Connector (an aiohttp
server that accepts replies and answers the roster lookup). Each phase posts literal Teams activities from ``--concurrency`` clients over
keep-alive connections and times each POST until its answer (a message's reply is sent to the connector before
the bot answers the POST, so the time includes it). Phases:

- ``echo``: "hello" to the SDK echo bot;
- ``book``: the "book" text command (identify the sender, claim the activity, store the conversation reference,
  read the school with its officer, LA and trust and work out its entitlement, reply with the first booking card);
- ``pick_date``: the ``book.pick_date`` Action.Execute invoke (the free times on a date, from the officer's
  calendar and the slot finder), answered with the replacement card.

The per-user chat rate limit is switched off (``chat_burst_turns=0``): the clients send far faster than a person.
Target: booking turns at 3x or more the echo bot's throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dev.echo_bot import build_echo_web_app  # noqa: E402
from scheduler.service import SweepIntervals  # noqa: E402
from tsm.adapters.db.directory import SchoolContact  # noqa: E402
from tsm.adapters.db.migrate import upgrade  # noqa: E402
from tsm.bootstrap import build_app  # noqa: E402
from tsm.composition import compose  # noqa: E402
from tsm.demo import load_demo  # noqa: E402
from tsm.server import web_app_for  # noqa: E402
from tsm.settings import Settings  # noqa: E402

TENANT = "11111111-2222-3333-4444-555555555555"
_ids = itertools.count(1)


class FakeConnector:
    def __init__(self) -> None:
        self.replies = 0
        self.members: dict[str, dict] = {}

    def app(self) -> web.Application:
        a = web.Application()
        a.add_routes(
            [
                web.post("/v3/conversations/{cid}/activities/{aid}", self.send),
                web.post("/v3/conversations/{cid}/activities", self.send),
                web.get("/v3/conversations/{cid}/members/{mid}", self.member),
            ]
        )
        return a

    async def send(self, request: web.Request) -> web.Response:
        await request.read()
        self.replies += 1
        return web.json_response({"id": f"r{self.replies}"})

    async def member(self, request: web.Request) -> web.Response:
        m = self.members.get(request.match_info["mid"])
        return web.json_response(m) if m else web.json_response({"error": {"code": "NotFound"}}, status=404)


async def start(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}"


def activity(service_url: str, user: int, **kw) -> dict:
    a = {
        "id": f"f:{next(_ids)}",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "timestamp": "2026-11-25T10:00:00.000Z",
        "localTimezone": "Europe/London",
        "from": {"id": f"29:user-{user}", "name": f"User {user}", "aadObjectId": f"aad-bench-{user}"},
        "conversation": {"conversationType": "personal", "tenantId": TENANT, "id": f"a:bench-{user}"},
        "recipient": {"id": "28:bot", "name": "TSM bot"},
        "channelData": {"tenant": {"id": TENANT}},
        "locale": "en-GB",
    }
    a.update(kw)
    return a


def message(service_url: str, user: int, text: str) -> dict:
    return activity(service_url, user, type="message", text=text)


def invoke(service_url: str, user: int, verb: str, data: dict) -> dict:
    return activity(
        service_url,
        user,
        type="invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"},
    )


def first_card(body: dict) -> dict:
    return body["value"]


def find(card: dict, verb: str) -> dict:
    stack = [card]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            if n.get("type") == "Action.Execute" and n.get("verb") == verb:
                return n
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)
    raise RuntimeError(f"no {verb} on the card")


def first_choice(card: dict, input_id: str) -> str:
    stack = [card]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            if n.get("id") == input_id and n.get("choices"):
                return n["choices"][0]["value"]
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)
    raise RuntimeError(f"no input {input_id}")


def input_values(card: dict) -> dict:
    """The card's inputs with their values (what Teams sends with an action that associates them)."""
    out, stack = {}, [card]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            if str(n.get("type", "")).startswith("Input.") and "id" in n:
                out[n["id"]] = n.get("value", "")
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)
    return out


async def _child_cpu(session: aiohttp.ClientSession, cpu_url: str) -> float:
    async with session.get(cpu_url) as r:
        return (await r.json())["cpu"]


async def phase(
    session: aiohttp.ClientSession, url: str, make, turns: int, concurrency: int, expect: int, cpu_url: str
) -> dict:
    latencies: list[float] = []
    counter = itertools.count()
    errors = 0

    async def worker(w: int) -> None:
        nonlocal errors
        while next(counter) < turns:
            body = make(w)
            t0 = time.perf_counter()
            async with session.post(url, json=body) as r:
                await r.read()
                ok = r.status == expect
            latencies.append(time.perf_counter() - t0)
            errors += 0 if ok else 1

    cpu0 = await _child_cpu(session, cpu_url)
    t0 = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    elapsed = time.perf_counter() - t0
    cpu = await _child_cpu(session, cpu_url) - cpu0
    latencies.sort()
    return {
        "turns": len(latencies),
        "seconds": elapsed,
        "tps": len(latencies) / elapsed,
        "latencies": latencies,
        "cpu_ms": cpu / len(latencies) * 1000,
        "errors": errors,
    }


def _median_run(runs: list[dict]) -> dict:
    """Throughput and CPU: the median of the runs; latency percentiles: over every turn of every run."""
    lat = sorted(x for r in runs for x in r["latencies"])
    return {
        "turns": len(lat),
        "tps": statistics.median(r["tps"] for r in runs),
        "p50": statistics.median(lat) * 1000,
        "p99": lat[int(0.99 * (len(lat) - 1))] * 1000,
        "cpu_ms": statistics.median(r["cpu_ms"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
    }


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _settings(url: str, tmp: Path) -> Settings:
    return Settings(
        database_url=url,
        _env_file=None,
        run_scheduler=False,
        invitations_dir=str(tmp / "inv"),
        chat_burst_turns=0,
        chat_sustained_turns=0,
    )


def transport_only_router():
    """Stand-in flows that do no work: the same verbs and card sizes, to measure the transport alone."""
    from tsm.chat import Reply, Router

    router = Router()
    text = {"type": "TextBlock", "text": "x" * 60, "wrap": True}

    def card(actions=(), inputs=()) -> dict:
        return {
            "type": "AdaptiveCard",
            "version": "1.5",
            "body": [text] * 5 + list(inputs),
            "actions": [
                {"type": "Action.Execute", "verb": v, "title": v, "data": {"verb": v, **d}}
                for v, d in actions
            ],
        }

    async def book(ctx, data):
        return Reply(card=card([("book.pick_mode", {"mode": "teams"}), ("book.stop", {})]))

    async def pick_mode(ctx, data):
        return Reply(
            card=card(
                [("book.pick_date", {"offerId": "x"})],
                [
                    {
                        "type": "Input.ChoiceSet",
                        "id": "date",
                        "choices": [{"title": "a", "value": "2026-12-01"}],
                    }
                ],
            )
        )

    async def pick_date(ctx, data):
        return Reply(card=card([("book.pick_time", {"offerId": "x"})] * 3))

    router.command("book")(book)
    router.verb("book.start")(book)
    router.verb("book.pick_mode")(pick_mode)
    router.verb("book.pick_date")(pick_date)
    return router


async def serve_bots(
    url: str,
    tmp: Path,
    port_file: Path,
    transport_only: bool = False,
    cold_offers: bool = False,
    scheduler: str = "off",
    sweep_every: int = 0,
) -> None:
    """The process under test: our server and the SDK echo bot, and ``GET /_bench/cpu`` (this process's CPU).
    ``scheduler``: ``off``, ``loop`` (the embedded sweeps in the bot's own event loop, as before issue 15) or
    ``thread`` (in a thread of their own, what ``tsm run`` does); ``sweep_every``: every sweep's interval in seconds
    (0: the product's), to load the process with sweeps."""
    if cold_offers:  # every card's offer read from the database, as when another instance showed the card
        import tsm.services.conversation as conversation

        conversation.OFFER_CACHE_SIZE = 0
    intervals = (
        SweepIntervals(**{name: sweep_every for name in SweepIntervals.__dataclass_fields__})
        if sweep_every
        else None
    )
    settings = _settings(url, tmp).model_copy(update={"run_scheduler": scheduler != "off"})
    router = transport_only_router() if transport_only else None
    if (
        scheduler == "thread"
    ):  # composed from the settings alone, as tsm run is: the sweeps in their own thread
        built = compose(settings, role="server", router=router, intervals=intervals)
    else:
        built = compose(
            app=build_app(settings), role="server", router=router, intervals=intervals
        )  # an App given: the sweeps (if on) in the bot's loop
    app = built.app
    web_app = web_app_for(built, close_app=False)

    async def cpu(_request: web.Request) -> web.Response:
        return web.json_response({"cpu": _cpu()})

    web_app.router.add_get("/_bench/cpu", cpu)
    r1, tsm_url = await start(web_app)
    r2, echo_url = await start(build_echo_web_app())
    await asyncio.to_thread(port_file.write_text, json.dumps({"tsm": tsm_url, "echo": echo_url}))
    try:
        await asyncio.Event().wait()  # until the parent terminates us
    finally:
        await r1.cleanup()
        await r2.cleanup()
        await app.close()  # after the web app's clean-up, which stopped the sweeps


def _spawn_bots(
    url: str,
    tmp: Path,
    port_file: Path,
    transport_only: bool,
    cold_offers: bool = False,
    scheduler: str = "off",
    sweep_every: int = 0,
) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--serve",
            url,
            "--tmp",
            str(tmp),
            "--port-file",
            str(port_file),
            *(["--transport-only"] if transport_only else []),
            *(["--cold-offers"] if cold_offers else []),
            "--scheduler",
            scheduler,
            "--sweep-every",
            str(sweep_every),
        ]
    )


def _pg_database(admin_url: str) -> tuple[str, str]:
    """A throw-away PostgreSQL database next to ``admin_url``'s: (its URL, its name)."""
    import uuid

    import psycopg

    name = f"tsm_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{admin_url.rsplit('/', 1)[0]}/{name}", name


def _drop_pg_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def main(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="tsm-bench-"))
    pg_name = None
    if args.pg:
        url, pg_name = _pg_database(args.pg)
    else:
        url = f"sqlite:///{tmp}/bench.db"
    try:
        return await _run(args, tmp, url)
    finally:
        if pg_name is not None:
            _drop_pg_database(args.pg, pg_name)


async def _run(args: argparse.Namespace, tmp: Path, url: str) -> int:
    upgrade(url)
    app = build_app(_settings(url, tmp))
    await load_demo(app.db, today=datetime.now(ZoneInfo("Europe/London")).date())

    connector = FakeConnector()
    runners = []
    r, connector_url = await start(connector.app())
    runners.append(r)
    service_url = connector_url + "/"
    # The bots run in their own process: its CPU is theirs alone (the clients and the fake connector are here).
    port_file = tmp / "ports.json"
    child = _spawn_bots(
        url, tmp, port_file, args.transport_only, args.cold_offers, args.scheduler, args.sweep_every
    )
    for _ in range(300):
        if port_file.exists() and port_file.read_text():
            break
        if child.poll() is not None:
            print("the bot process exited", file=sys.stderr)
            return 2
        await asyncio.sleep(0.1)
    ports = json.loads(port_file.read_text())
    tsm_url, echo_url = ports["tsm"], ports["echo"]
    # --compare-scheduler: a second bots' process on the same database with the embedded sweeps running, its book
    # turns timed in the same interleaved runs (a burst of load elsewhere hits both alike).
    child2, sched_url = None, ""
    if args.compare_scheduler:
        port_file2 = tmp / "ports-scheduler.json"
        child2 = _spawn_bots(url, tmp, port_file2, False, False, args.compare_scheduler, args.sweep_every)
        for _ in range(300):
            if port_file2.exists() and port_file2.read_text():
                break
            if child2.poll() is not None:
                print("the second bot process exited", file=sys.stderr)
                return 2
            await asyncio.sleep(0.1)
        sched_url = json.loads(port_file2.read_text())["tsm"]

    from sqlmodel import select

    async with app.db.reader() as s:
        leads = list(
            await s.exec(
                select(SchoolContact)
                .where(SchoolContact.role == "attendance_lead")
                .order_by(SchoolContact.id)
            )
        )
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=64)) as session:
        # Users whose school books by itself, each with an open offer (the dates card) for the pick_date phase.
        users: list[tuple[int, dict]] = []
        for c in leads:
            if len(users) >= args.users:
                break
            n = len(users) + 1 + 1000 * c.id
            connector.members[f"29:user-{n}"] = {
                "id": f"29:user-{n}",
                "name": c.name,
                "email": c.email,
                "userPrincipalName": c.email,
                "aadObjectId": f"aad-bench-{n}",
            }
            async with session.post(
                tsm_url + "/api/messages", json=invoke(service_url, n, "book.start", {})
            ) as resp:
                card = first_card(await resp.json())
            try:
                mode = find(card, "book.pick_mode")
            except RuntimeError:
                continue  # contacted directly by the LA, or already booked
            more = {
                **input_values(card),
                **mode["data"],
            }  # "More dates", with the card's inputs as Teams sends them
            more.pop("verb", None)
            async with session.post(
                tsm_url + "/api/messages", json=invoke(service_url, n, "book.pick_mode", more)
            ) as resp:
                card = first_card(await resp.json())
            pick = find(card, "book.pick_date")
            data = {**pick["data"], "date": first_choice(card, "date")}
            users.append((n, data))
        if not users:
            print("no demo school can book by itself: nothing to measure", file=sys.stderr)
            return 2

        def echo_turn(w: int) -> dict:
            return message(service_url, 10_000 + w, "hello")

        def book_turn(w: int) -> dict:
            n, _ = users[w % len(users)]
            return message(service_url, n, "book")

        def pick_turn(w: int) -> dict:
            n, data = users[w % len(users)]
            return invoke(service_url, n, "book.pick_date", data)

        # Warm-up (imports, caches, connection pools) for each, not measured.
        cpu_url = tsm_url + "/_bench/cpu"
        await phase(session, echo_url + "/api/messages", echo_turn, 40, args.concurrency, 201, cpu_url)
        await phase(session, tsm_url + "/api/messages", book_turn, 40, args.concurrency, 200, cpu_url)
        await phase(session, tsm_url + "/api/messages", pick_turn, 40, args.concurrency, 200, cpu_url)
        phases = {
            "echo (SDK defaults)": (echo_url, echo_turn, 201, cpu_url),
            "book (text command)": (tsm_url, book_turn, 200, cpu_url),
            "book.pick_date (invoke)": (tsm_url, pick_turn, 200, cpu_url),
        }
        if sched_url:
            await phase(
                session,
                sched_url + "/api/messages",
                book_turn,
                40,
                args.concurrency,
                200,
                sched_url + "/_bench/cpu",
            )
            phases[f"book, sweeps {args.compare_scheduler}"] = (
                sched_url,
                book_turn,
                200,
                sched_url + "/_bench/cpu",
            )
        runs: dict[str, list[dict]] = {name: [] for name in phases}
        for _ in range(args.repeat):  # interleaved, so a burst of load elsewhere hits every phase alike
            for name, (base, make, expect, cpu) in phases.items():
                runs[name].append(
                    await phase(
                        session, base + "/api/messages", make, args.turns, args.concurrency, expect, cpu
                    )
                )
        results = {name: _median_run(rs) for name, rs in runs.items()}

    for proc in (child, child2):
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    for r in runners:
        await r.cleanup()
    await app.close()
    shutil.rmtree(tmp, ignore_errors=True)

    print(f"$ {shlex.join(['.venv/bin/python', 'bench/bot_turns.py', *sys.argv[1:]])}")
    print(
        f"loopback; both bots in one process, the {args.concurrency} concurrent clients and the fake connector in "
        f"another; {len(users)} booking users, {'PostgreSQL' if args.pg else 'SQLite'} with the demo LA; "
        f"{args.repeat} interleaved runs of "
        f"{args.turns} turns per kind: turns/s and CPU per turn (the bots' process only) are medians of the runs, "
        f"p50/p99 over all turns{'; stand-in flows (--transport-only)' if args.transport_only else ''}"
        f"{'; no offers kept in memory (--cold-offers)' if args.cold_offers else ''}; "
        f"embedded scheduler: {args.scheduler}"
        f"{f', every sweep every {args.sweep_every} s' if args.sweep_every and args.scheduler != 'off' else ''}"
    )
    print(
        f"{'turn':<26}{'turns':>7}{'turns/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/turn':>13}{'errors':>8}"
    )
    for name, r in results.items():
        print(
            f"{name:<26}{r['turns']:>7}{r['tps']:>10.1f}{r['p50']:>9.1f}{r['p99']:>9.1f}{r['cpu_ms']:>13.2f}"
            f"{r['errors']:>8}"
        )
    if sched_url:
        alone, swept = results["book (text command)"], results[f"book, sweeps {args.compare_scheduler}"]
        print(
            f"book p99 with the embedded sweeps ({args.compare_scheduler}) / without: "
            f"{swept['p99'] / alone['p99']:.2f} (target <= 1.10); p50 {swept['p50'] / alone['p50']:.2f}"
        )
    echo = results["echo (SDK defaults)"]
    booking = [results["book (text command)"], results["book.pick_date (invoke)"]]
    ratio = min(r["tps"] for r in booking) / echo["tps"]
    cpu_ratio = echo["cpu_ms"] / max(r["cpu_ms"] for r in booking)
    print(
        f"slowest booking turn / echo throughput: {ratio:.2f}x (target >= 3x): {'met' if ratio >= 3 else 'NOT met'}; "
        f"echo CPU per turn / costliest booking turn's: {cpu_ratio:.2f}x"
    )
    errors = sum(r["errors"] for r in results.values())
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--turns", type=int, default=400, help="turns per kind per run")
    p.add_argument("--repeat", type=int, default=3, help="interleaved runs of every kind")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--users", type=int, default=8)
    p.add_argument(
        "--transport-only",
        action="store_true",
        help="stand-in flows that do no work: what the transport alone costs",
    )
    p.add_argument(
        "--cold-offers",
        action="store_true",
        help="no offers kept in memory: each date pick reads its offer from the database (as when "
        "another instance showed the card)",
    )
    p.add_argument(
        "--pg",
        nargs="?",
        const="postgresql://postgres@127.0.0.1:5432/test",
        default="",
        help="run the bots on a throw-away PostgreSQL database made next to this admin connection's "
        "(default postgresql://postgres@127.0.0.1:5432/test), dropped afterwards; default: an SQLite file",
    )
    p.add_argument(
        "--scheduler",
        choices=("off", "loop", "thread"),
        default="off",
        help="the embedded scheduler in the bots' process: off, in the bot's event loop, or in its own thread "
        "(what tsm run does)",
    )
    p.add_argument(
        "--sweep-every", type=int, default=0, help="every sweep's interval in seconds (0: the product's)"
    )
    p.add_argument(
        "--compare-scheduler",
        choices=("loop", "thread"),
        default="",
        help="also time the book turn on a second bots' process with the embedded sweeps running (in its loop or "
        "in their thread), interleaved with the first's",
    )
    p.add_argument("--serve", help=argparse.SUPPRESS)  # internal: run the bots' process on this database
    p.add_argument("--tmp", help=argparse.SUPPRESS)
    p.add_argument("--port-file", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.serve:
        try:
            asyncio.run(
                serve_bots(
                    a.serve,
                    Path(a.tmp),
                    Path(a.port_file),
                    a.transport_only,
                    a.cold_offers,
                    a.scheduler,
                    a.sweep_every,
                )
            )
        except KeyboardInterrupt:
            pass
        sys.exit(0)
    sys.exit(asyncio.run(main(a)))
