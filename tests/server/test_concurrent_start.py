"""Several instances starting at once on a new PostgreSQL database: each runs the migrations (``tsm run`` and
``tsm db upgrade`` both do), and all of them must succeed with the schema built once."""

from __future__ import annotations

import subprocess
import sys

from processes import base_env

from tsm.adapters.db.migrate import current


def test_simultaneous_upgrades_on_a_fresh_database_all_succeed(empty_pg_url, tmp_path):
    env = base_env(empty_pg_url, tmp_path)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tsm", "db", "upgrade"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120)[0].decode(errors="replace") for p in procs]
    codes = [p.returncode for p in procs]
    assert codes == [0, 0, 0, 0], "\n----\n".join(outputs)
    from alembic.script import ScriptDirectory

    from tsm.adapters.db.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(empty_pg_url)).get_current_head()
    assert current(empty_pg_url) == head
