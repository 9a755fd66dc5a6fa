"""Mutation testing of one source file: ``make mutate FILE=tsm/domain/slots.py`` (or ``python tools/mutate.py FILE``).

Why our own runner and not mutmut or cosmic-ray: mutmut 3 copies the tree into ``mutants/`` and rewrites every
function into trampolines with its own operator set (string and arithmetic mutants, hundreds per file), and
cosmic-ray starts a fresh interpreter (and a full import of the app) per mutant. This file does what issue 17 asks
in one place, and fast:

1. Mutants, from the file's syntax tree (each a small text edit of the file, shown as a diff):
   ``compare``  a comparison flipped (``<`` -> ``<=``, ``<=`` -> ``<``, ``==`` -> ``!=``, ``in`` -> ``not in``...);
   ``negate``   a condition negated (``if``/``while``/``x if c else y``/comprehension filters; ``not x`` -> ``x``);
   ``boolop``   ``and`` <-> ``or``;
   ``constant`` a number changed by +1 and -1, ``True`` <-> ``False``;
   ``delete``   a statement inside a function replaced by ``pass``;
   ``return``   a returned value replaced by ``None``.
2. Which tests to run: the file's candidate tests (``tools/mutation_targets.toml``, or ``--tests``) are run once under
   ``coverage`` with one context per test; a mutant then runs only the tests that executed its lines (cheapest
   first, stopping at the first failure). A mutant on a line no test reaches survives without a run.
3. Each mutant runs in a child forked from a process that has already imported the third-party libraries; the child
   loads the mutated source for the one module (an import hook: the shared tree is never written) and runs pytest
   in-process. ``--jobs`` children at a time; one that runs over its time budget is killed and counted as killed.

A mutant that cannot change behaviour is marked in the source, on the line where the mutated code starts, with
``# equivalent-mutant[OP,...]: why`` (OP from the list above, or OP=REPLACEMENT for one mutant of that operator, e.g.
``constant=-1``): it is listed apart and left out of the score.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import importlib.abc
import importlib.util
import json
import os
import random
import re
import signal
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ROOT / "tools" / "mutation_targets.toml"
PRAGMA = re.compile(r"#\s*equivalent-mutant\[([^\]]+)\]")  # [op, op=replacement, ...]
OPS = ("compare", "negate", "boolop", "constant", "delete", "return")

FLIP = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}


@dataclass
class Mutant:
    id: int
    op: str
    line: int
    end_line: int
    start: tuple[int, int]  # (line, col) of the replaced text, 1-based line, 0-based col (utf-8 offsets)
    end: tuple[int, int]
    replacement: str
    description: str
    equivalent: bool = False
    source: str = ""
    status: str = "pending"  # killed | timeout | survived | no-coverage | equivalent
    seconds: float = 0.0
    tests: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------- generating


class _Collector(ast.NodeVisitor):
    def __init__(self, source: str) -> None:
        self.source = source
        self.lines = source.splitlines(keepends=True)
        self.found: list[tuple[str, ast.AST, str, str]] = []  # (op, node, replacement, description)
        self.in_function = 0

    def seg(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.source, node) or ast.unparse(node)

    def add(self, op: str, node: ast.AST, replacement: str, description: str) -> None:
        self.found.append((op, node, replacement, description))

    # annotations are not code that runs: never mutate them
    def visit_arg(self, node: ast.arg) -> None:
        return None

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        if self.in_function:
            self._delete(node)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for d in node.decorator_list:
            self.visit(d)
        self.visit(node.args)
        self.in_function += 1
        for i, stmt in enumerate(node.body):
            if i == 0 and _is_docstring(stmt):
                continue
            self.visit(stmt)
        self.in_function -= 1

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_arguments(self, node: ast.arguments) -> None:
        for d in [*node.defaults, *[k for k in node.kw_defaults if k is not None]]:
            self.visit(d)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for i, stmt in enumerate(node.body):
            if i == 0 and _is_docstring(stmt):
                continue
            self.visit(stmt)

    def visit_Module(self, node: ast.Module) -> None:
        for i, stmt in enumerate(node.body):
            if i == 0 and _is_docstring(stmt):
                continue
            if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
                continue
            self.visit(stmt)

    def _delete(self, node: ast.stmt) -> None:
        if self.in_function and not isinstance(
            node, ast.Pass | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
        ):
            first = self.seg(node).splitlines()[0]
            self.add("delete", node, "pass", f"delete `{first.strip()[:70]}`")

    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.stmt) and not isinstance(node, ast.Expr | ast.Import | ast.ImportFrom):
            self._delete(node)
        elif isinstance(node, ast.Expr) and not (
            isinstance(node.value, ast.Constant)
            and (isinstance(node.value.value, str) or node.value.value is ...)
        ):
            self._delete(node)  # (a docstring or a stub's `...` is not code to delete)
        super().generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        for i, op in enumerate(node.ops):
            new_op = FLIP.get(type(op))
            if new_op is None:
                continue
            ops = list(node.ops)
            ops[i] = new_op()
            mutated = ast.Compare(left=node.left, ops=ops, comparators=node.comparators)
            self.add("compare", node, f"({ast.unparse(mutated)})", f"`{_opstr(op)}` -> `{_opstr(new_op())}`")
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        # only the operator changes: the operands' text is kept as written
        parts = [f"({self.seg(v)})" for v in node.values]
        word = " or " if isinstance(other, ast.Or) else " and "
        self.add(
            "boolop",
            node,
            f"({word.join(parts)})",
            f"`{'and' if isinstance(node.op, ast.And) else 'or'}` -> `{word.strip()}`",
        )
        self.generic_visit(node)

    def _negate(self, test: ast.expr) -> None:
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            self.add("negate", test, f"({self.seg(test.operand)})", "`not x` -> `x`")
        else:
            self.add("negate", test, f"(not ({self.seg(test)}))", "condition negated")

    def visit_If(self, node: ast.If) -> None:
        self._negate(node.test)
        self.generic_visit(node)

    def visit_While(self, node: ast.While) -> None:
        self._negate(node.test)
        self.generic_visit(node)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self._negate(node.test)
        self.generic_visit(node)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        for cond in node.ifs:
            self._negate(cond)
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Not):  # (as an if/while test, _negate made the same mutant: deduplicated)
            self.add("negate", node, f"({self.seg(node.operand)})", "`not x` -> `x`")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        v = node.value
        if isinstance(v, bool):
            self.add("constant", node, repr(not v), f"`{v}` -> `{not v}`")
        elif isinstance(v, int | float):
            for d in (1, -1):
                new = v + d
                self.add("constant", node, repr(new), f"`{v!r}` -> `{new!r}`")

    def visit_Return(self, node: ast.Return) -> None:
        if node.value is not None and not (isinstance(node.value, ast.Constant) and node.value.value is None):
            self.add("return", node.value, "None", f"`return {self.seg(node.value)[:50]}` -> `return None`")
        self.generic_visit(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        return None  # f-strings: message wording, not rules (and format specs hold constants)


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _opstr(op: ast.cmpop) -> str:
    return {
        ast.Lt: "<",
        ast.LtE: "<=",
        ast.Gt: ">",
        ast.GtE: ">=",
        ast.Eq: "==",
        ast.NotEq: "!=",
        ast.Is: "is",
        ast.IsNot: "is not",
        ast.In: "in",
        ast.NotIn: "not in",
    }[type(op)]


def generate(path: Path) -> list[Mutant]:
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    c = _Collector(source)
    c.visit(tree)
    lines = source.splitlines()
    out: list[Mutant] = []
    seen: set[tuple] = set()
    for op, node, replacement, description in c.found:
        key = (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, replacement)
        if key in seen:
            continue
        seen.add(key)
        m = Mutant(
            len(out) + 1,
            op,
            node.lineno,
            node.end_lineno or node.lineno,
            (node.lineno, node.col_offset),
            (node.end_lineno or node.lineno, node.end_col_offset or 0),
            replacement,
            description,
        )
        pragma = PRAGMA.search(lines[node.lineno - 1])
        if pragma:
            for item in (p.strip() for p in pragma.group(1).split(",")):
                name, _, replacement = item.partition("=")
                if name == op and (not replacement or replacement == m.replacement):
                    m.equivalent = True
        m.source = apply(source, m)
        try:
            compile(m.source, str(path), "exec")
        except SyntaxError:
            continue
        out.append(m)
    for i, m in enumerate(out, 1):
        m.id = i
    return out


def apply(source: str, m: Mutant) -> str:
    lines = source.splitlines(keepends=True)
    (l1, c1), (l2, c2) = m.start, m.end
    b1 = lines[l1 - 1].encode("utf-8")
    b2 = lines[l2 - 1].encode("utf-8")
    head = b1[:c1].decode("utf-8")
    tail = b2[c2:].decode("utf-8")
    return "".join(lines[: l1 - 1]) + head + m.replacement + tail + "".join(lines[l2:])


def diff(path: str, source: str, mutated: str) -> str:
    return "".join(
        difflib.unified_diff(
            source.splitlines(keepends=True), mutated.splitlines(keepends=True), f"a/{path}", f"b/{path}", n=1
        )
    )


# ---------------------------------------------------------------------------------------------------- running


class _MutatedModule(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, name: str, path: Path, source: str) -> None:
        self.name, self.path, self.source = name, path, source

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        is_pkg = self.path.name == "__init__.py"
        spec = importlib.util.spec_from_loader(fullname, self, origin=str(self.path), is_package=is_pkg)
        spec.has_location = True
        if is_pkg:
            spec.submodule_search_locations = [str(self.path.parent)]
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__file__ = str(self.path)
        exec(compile(self.source, str(self.path), "exec"), module.__dict__)


def _pytest_args(tests: list[str], basetemp: str, extra: list[str]) -> list[str]:
    return [
        "-q",
        "-x",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:cov",
        "--no-header",
        "-o",
        "addopts=",
        f"--basetemp={basetemp}",
        "-W",
        "ignore",
        *extra,
        *tests,
    ]


def _child_run_pytest(args: list[str], plugins: list | None = None, quiet: bool = True) -> int:
    import pytest

    if quiet:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    return int(pytest.main(args, plugins=plugins or []))


class _TestTimer:
    """In a mutant's child: a test that runs well past its measured time (a mutant's endless loop) ends the child
    at once (exit 124, counted as killed by timeout) instead of holding a worker for the whole budget."""

    def __init__(self, limits: dict[str, float]) -> None:
        self.limits = limits
        signal.signal(signal.SIGALRM, lambda *_: os._exit(124))

    def pytest_runtest_setup(self, item) -> None:
        signal.setitimer(signal.ITIMER_REAL, self.limits.get(item.nodeid, 30.0))

    def pytest_runtest_logreport(self, report) -> None:
        if report.when == "teardown":
            signal.setitimer(signal.ITIMER_REAL, 0)


class _ContextPlugin:
    """Coverage context per test (its node id), the test's time and outcome."""

    def __init__(self, cov) -> None:
        self.cov = cov
        self.seconds: dict[str, float] = {}
        self.failed: set[str] = set()

    def pytest_runtest_setup(self, item) -> None:
        self.cov.switch_context(item.nodeid)

    def pytest_runtest_logreport(self, report) -> None:
        self.seconds[report.nodeid] = self.seconds.get(report.nodeid, 0.0) + report.duration
        if report.failed:
            self.failed.add(report.nodeid)


def measure(path: Path, tests: list[str], workdir: Path, extra: list[str]) -> dict:
    """Run the candidate tests once under coverage (in a child); return lines -> tests, times, failures."""
    out_file = workdir / "measure.json"
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            import coverage

            cov = coverage.Coverage(
                data_file=str(workdir / "cov.data"), include=[str(path)], branch=False, config_file=False
            )  # not make test's settings: only this file, no branches
            cov.start()
            plugin = _ContextPlugin(cov)
            args = [a for a in _pytest_args(tests, str(workdir / "measure-tmp"), extra) if a != "-x"]
            code = _child_run_pytest(args, [plugin])
            cov.stop()
            cov.save()
            data = cov.get_data()
            by_line = {str(k): sorted(v) for k, v in data.contexts_by_lineno(str(path)).items()}
            third_party = []
            for name, mod in list(sys.modules.items()):
                f = getattr(mod, "__file__", None)
                if f is None or not f.startswith(str(ROOT)) or f.startswith(str(ROOT / ".venv")):
                    third_party.append(name)
            out_file.write_text(
                json.dumps(
                    {
                        "by_line": by_line,
                        "seconds": plugin.seconds,
                        "failed": sorted(plugin.failed),
                        "exit": code,
                        "modules": third_party,
                    }
                )
            )
        finally:
            os._exit(0 if code in (0, 1) else code)
    _, status = os.waitpid(pid, 0)
    if not out_file.exists():
        sys.exit(f"mutate: the coverage run of {tests} did not finish (status {status})")
    return json.loads(out_file.read_text())


def preload(modules: list[str]) -> None:
    for name in sorted(modules, key=lambda n: n.count(".")):
        if name in sys.modules or name.startswith(("__main__", "__mp_main__")):
            continue
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - preloading is an optimisation only
            pass


def run_all(
    mutants: list[Mutant],
    module: str,
    path: Path,
    workdir: Path,
    jobs: int,
    extra: list[str],
    limits: dict[str, float] | None = None,
) -> None:
    limits = limits or {}
    running: dict[int, tuple[Mutant, float, float]] = {}
    queue = [m for m in mutants if m.status == "pending"]
    done = 0
    total = len(queue)
    while queue or running:
        while queue and len(running) < jobs:
            m = queue.pop(0)
            budget = m.seconds
            pid = os.fork()
            if pid == 0:
                code = 3
                try:
                    os.setpgid(0, 0)
                    sys.meta_path.insert(0, _MutatedModule(module, path, m.source))
                    timer = _TestTimer({t: 5.0 + 5.0 * limits.get(t, 5.0) for t in m.tests})
                    code = _child_run_pytest(_pytest_args(m.tests, str(workdir / f"m{m.id}"), extra), [timer])
                finally:
                    os._exit(code)
            running[pid] = (m, time.monotonic(), budget)
        time.sleep(0.02)
        for pid, (m, started, budget) in list(running.items()):
            got, status = os.waitpid(pid, os.WNOHANG)
            if got == 0:
                if time.monotonic() - started > budget:
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    os.waitpid(pid, 0)
                    m.status = "timeout"
                else:
                    continue
            else:
                code = os.waitstatus_to_exitcode(status)
                m.status = "survived" if code == 0 else "timeout" if code == 124 else "killed"
            m.seconds = time.monotonic() - started
            del running[pid]
            done += 1
            mark = {"killed": ".", "timeout": "T", "survived": "S"}[m.status]
            print(mark, end="" if done % 60 else f" {done}/{total}\n", flush=True)
    print()


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def candidate_tests(rel: str, given: list[str] | None) -> tuple[list[str], list[str]]:
    if given:
        return given, []
    conf = tomllib.loads(TARGETS.read_text(encoding="utf-8"))
    entry = conf.get("files", {}).get(rel)
    if entry is None:
        sys.exit(
            f"mutate: no candidate tests for {rel} in {TARGETS.relative_to(ROOT)}; add them or pass --tests"
        )
    return list(entry["tests"]), list(entry.get("pytest_args", []))


def hand_mutant(args: argparse.Namespace) -> int:
    path = (ROOT / args.file).resolve()
    rel = str(path.relative_to(ROOT))
    original = path.read_text(encoding="utf-8")
    old, new = (a.encode().decode("unicode_escape") for a in args.replace)
    if old not in original:
        sys.exit(f"mutate: {old!r} is not in {rel}")
    tests, extra = candidate_tests(rel, args.tests)
    m = Mutant(
        0, "hand", 0, 0, (0, 0), (0, 0), new, f"{old!r} -> {new!r}", source=original.replace(old, new, 1)
    )
    m.tests, m.seconds = tests, 600.0
    print(diff(rel, original, m.source), end="")
    with tempfile.TemporaryDirectory(prefix="tsm-mutate-") as tmp:
        run_all([m], module_name(path), path, Path(tmp), 1, extra)
    print(f"{rel}: hand mutant {m.description}: {m.status.upper()} ({' '.join(tests)})")
    return 0 if m.status in ("killed", "timeout") else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("file", help="the source file to mutate, e.g. tsm/domain/slots.py")
    ap.add_argument("--tests", nargs="*", help="candidate test paths (default: tools/mutation_targets.toml)")
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("MUTATE_JOBS", os.cpu_count() or 2)))
    ap.add_argument("--sample", type=int, default=0, help="test only N mutants picked at random (--seed)")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--lines", help="only mutants starting in this line range, e.g. 120-160")
    ap.add_argument("--op", action="append", choices=OPS, help="only these operators (repeatable)")
    ap.add_argument("--list", action="store_true", help="list the mutants and stop")
    ap.add_argument("--json", help="write the results here as JSON")
    ap.add_argument(
        "--replace",
        nargs=2,
        metavar=("OLD", "NEW"),
        help="one hand-made mutant: the first OLD in the file replaced by NEW, run against the candidate "
        "tests (to check a test fails on the change a rule forbids, without editing the tree)",
    )
    args = ap.parse_args(argv)
    if args.replace:
        return hand_mutant(args)

    path = (ROOT / args.file).resolve() if not Path(args.file).is_absolute() else Path(args.file)
    rel = str(path.relative_to(ROOT))
    mutants = generate(path)
    if args.op:
        mutants = [m for m in mutants if m.op in args.op]
    if args.lines:
        lo, hi = (int(x) for x in args.lines.split("-"))
        mutants = [m for m in mutants if lo <= m.line <= hi]
    if args.sample and args.sample < len(mutants):
        mutants = sorted(random.Random(args.seed).sample(mutants, args.sample), key=lambda m: m.id)
    original = path.read_text(encoding="utf-8")
    if args.list:
        for m in mutants:
            print(
                f"#{m.id} {rel}:{m.line} [{m.op}] {m.description}{'  (equivalent)' if m.equivalent else ''}"
            )
        return 0

    tests, extra = candidate_tests(rel, args.tests)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tsm-mutate-") as tmp:
        workdir = Path(tmp)
        print(
            f"mutate: {rel}: {len(mutants)} mutants; measuring which of {' '.join(tests)} cover which lines...",
            flush=True,
        )
        info = measure(path, tests, workdir, extra)
        failed = set(info["failed"])
        if failed:
            print(
                f"mutate: {len(failed)} candidate test(s) fail without any mutant and are left out: "
                + ", ".join(sorted(failed)[:5]),
                flush=True,
            )
        seconds = info["seconds"]
        by_line = {int(k): [c for c in v if c and c not in failed] for k, v in info["by_line"].items()}
        import_only = {k for k, v in info["by_line"].items() if v == [""]}
        all_tests = sorted((t for t in seconds if t not in failed), key=lambda t: seconds[t])
        print(
            f"mutate: {len(all_tests)} tests in {time.monotonic() - t0:.0f} s; forking {args.jobs} at a time",
            flush=True,
        )
        for m in mutants:
            if m.equivalent:
                m.status = "equivalent"
                continue
            chosen: set[str] = set()
            reached = False
            for line in range(m.line, m.end_line + 1):
                if line in by_line:
                    reached = True
                    chosen.update(by_line[line])
            if reached and not chosen and str(m.line) in import_only:
                chosen = set(all_tests)  # module-level code: run at import, so every test may depend on it
            if not chosen:
                m.status = "no-coverage"
                continue
            m.tests = sorted(chosen, key=lambda t: seconds.get(t, 0.0))
            m.seconds = 30.0 + 3.0 * sum(
                seconds.get(t, 0.0) for t in m.tests
            )  # the last resort: see _TestTimer
        preload(info["modules"])
        run_all(mutants, module_name(path), path, workdir, max(1, args.jobs), extra, seconds)

    scored = [m for m in mutants if m.status != "equivalent"]
    killed = [m for m in scored if m.status in ("killed", "timeout")]
    survivors = [m for m in scored if m.status in ("survived", "no-coverage")]
    for m in survivors:
        print(
            f"\n--- survived #{m.id} [{m.op}] {m.description}"
            f"{' (no test reaches this line)' if m.status == 'no-coverage' else f' ({len(m.tests)} tests ran)'}"
        )
        print(diff(rel, original, m.source), end="")
    equivalent = [m for m in mutants if m.status == "equivalent"]
    if equivalent:
        print(
            "\nequivalent (marked in the source, not scored): "
            + ", ".join(f"#{m.id} line {m.line} [{m.op}]" for m in equivalent)
        )
    score = 100.0 * len(killed) / len(scored) if scored else 100.0
    timeouts = sum(m.status == "timeout" for m in killed)
    print(
        f"\n{rel}: {len(killed)}/{len(scored)} mutants killed = {score:.1f}% "
        f"({timeouts} by timeout, {len(survivors)} survived, {len(equivalent)} equivalent) "
        f"in {time.monotonic() - t0:.0f} s"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "file": rel,
                    "score": score,
                    "mutants": [
                        {
                            "id": m.id,
                            "op": m.op,
                            "line": m.line,
                            "description": m.description,
                            "status": m.status,
                        }
                        for m in mutants
                    ],
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
