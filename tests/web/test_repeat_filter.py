"""Issue 12 B8: a flood of the same failure writes a bounded number of log lines (tsm/web/slow_clients.py)."""

from __future__ import annotations

import io
import logging

from tsm.web.slow_clients import RepeatFilter


def test_the_same_line_is_logged_once_per_period_and_says_how_many_were_held_back():
    now = [0.0]
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RepeatFilter(every=10, clock=lambda: now[0]))
    logger = logging.getLogger("test.repeat")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for i in range(61_032):  # the attack's count, in 30 s
            now[0] = i * 30 / 61_032
            logger.error("socket.accept() out of system resource\nsocket: <fd=%d>", i)
            if i % 1000 == 0:
                logger.warning("another kind of line")  # not delayed by the flood of the first kind
        lines = out.getvalue().splitlines()
    finally:
        logger.removeHandler(handler)
    floods = [x for x in lines if x.startswith("socket.accept()")]
    assert len(floods) == 3  # one per 10 s
    assert "similar lines in the last 10 s not logged" in floods[1]
    others = [x for x in lines if x.startswith("another kind of line")]
    assert (
        len(others) == 3 and lines[2] == "another kind of line"
    )  # counted on its own, not held by the flood


def test_the_repeat_filter_goes_on_the_products_handlers_only():
    """``tsm run`` (also run in-process by tests) installs it on the handler configure_logging made, never on
    handlers others put on the root logger (pytest's log capture: a filter there hid repeated lines from every
    later test's caplog)."""
    import logging

    from tsm.observability import configure_logging
    from tsm.web.slow_clients import install_repeat_filter

    root = logging.getLogger()
    foreign = logging.NullHandler()
    root.addHandler(foreign)
    level = root.level
    ours = configure_logging("INFO", stream=open("/dev/null", "w"))  # noqa: SIM115 - closed below
    try:
        install_repeat_filter()
        assert any(isinstance(f, RepeatFilter) for f in ours.filters)
        assert not any(isinstance(f, RepeatFilter) for f in foreign.filters)
    finally:
        root.removeHandler(foreign)
        root.removeHandler(ours)
        ours.stream.close()
        root.setLevel(level)
