"""``make mutate``'s own rules (``tools/mutate.py``): the operators issue 17 asks for, equivalence marks honoured
one mutant at a time, and a candidate list that names real files."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("tsm_mutate_tool", ROOT / "tools" / "mutate.py")
mutate = importlib.util.module_from_spec(_spec)
sys.modules["tsm_mutate_tool"] = mutate  # dataclasses look their module up there
_spec.loader.exec_module(mutate)

SOURCE = '''
LIMIT = 3


def f(x, items):
    """A docstring is not mutated."""
    if x <= LIMIT and not items:
        return x + 1
    total = 0  # equivalent-mutant[constant=1]: marked
    for i in items:
        total += i
    return total


class P:
    def stub(self) -> int: ...
'''


def test_the_operators_and_the_equivalence_mark(tmp_path):
    path = tmp_path / "sample.py"
    path.write_text(SOURCE)
    ms = mutate.generate(path)
    got = {(m.op, m.description) for m in ms}
    assert ("compare", "`<=` -> `<`") in got
    assert ("boolop", "`and` -> `or`") in got
    assert ("negate", "condition negated") in got and ("negate", "`not x` -> `x`") in got
    assert ("constant", "`3` -> `4`") in got and ("constant", "`3` -> `2`") in got
    assert ("return", "`return x + 1` -> `return None`") in got
    assert ("delete", "delete `total += i`") in got
    assert not any("docstring" in m.description or "..." in m.description for m in ms)
    marked = [m for m in ms if m.equivalent]
    assert [(m.op, m.replacement) for m in marked] == [
        ("constant", "1")
    ]  # only the one named, not `0` -> `-1`
    for m in ms:
        compile(m.source, "sample.py", "exec")  # every mutant is valid Python
        assert m.source != SOURCE


def test_every_target_and_candidate_test_exists():
    conf = tomllib.loads((ROOT / "tools" / "mutation_targets.toml").read_text())
    for target, entry in conf["files"].items():
        assert (ROOT / target).is_file(), target
        for t in entry["tests"]:
            assert (ROOT / t.split("::")[0]).exists(), (target, t)
