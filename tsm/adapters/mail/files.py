"""The embedded default: every email written as an ``.eml`` file (RFC 5322, as a mail client saves it).

A file appears whole or not at all: it is written under a temporary name in the same folder, flushed, then
renamed (``os.replace`` is atomic on one file system), so a reader listing the folder (the ``/dev/mail`` page, a
test) never sees half a message. Names sort by time: ``20261110T090000123456Z-<random>.eml``.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from . import SENT, MailResult, MailStatus, stamp

NAME = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{12}\.eml$")


class FileMailer:
    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    async def send(self, message: EmailMessage) -> MailResult:
        stamp(message)
        data = message.as_bytes(
            policy=default
        )  # one LF per line: readable on disk; mail clients open it as is
        try:
            await asyncio.to_thread(self._write, data)
        except OSError as exc:  # a full or read-only disk: worth another try later
            return MailResult(MailStatus.RETRY, f"could not write the .eml ({type(exc).__name__})")
        return SENT

    def _write(self, data: bytes) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(6)}.eml"
        final = self.directory / name
        tmp = self.directory / f".{name}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        return final

    def files(self) -> list[Path]:
        """The ``.eml`` files written, oldest first (temporary files excluded)."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if NAME.match(p.name))

    async def close(self) -> None:
        return None
