"""``python -m dev.graph_emulator --port 8765`` (from the project root): run the Graph emulator until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from .app import serve_forever


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m dev.graph_emulator",
        description="A local Microsoft Graph (calendars, subscriptions) for testing.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--join-url-after-reads",
        type=int,
        default=0,
        help="Teams join URLs appear only on the Nth GET of a new online event (0: at once)",
    )
    parser.add_argument(
        "--page-size", type=int, default=10, help="default page size of calendarView and delta"
    )
    parser.add_argument(
        "--mailbox-concurrency",
        type=int,
        default=None,
        help="answer 429 beyond this many concurrent requests per mailbox (Graph: 4)",
    )
    parser.add_argument(
        "--require-https", action="store_true", help="refuse http:// notification URLs, as Graph does"
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper())
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve_forever(
                args.host,
                args.port,
                join_url_after_reads=args.join_url_after_reads,
                page_size=args.page_size,
                mailbox_concurrency=args.mailbox_concurrency,
                require_https=args.require_https,
            )
        )


if __name__ == "__main__":
    main()
