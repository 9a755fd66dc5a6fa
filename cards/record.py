"""The TSM record cards: the record as read (figures suppressed under 5), the form to write it, and the
form again with a warning when free text looks like pupil data (nothing is saved until the user edits
the text or confirms the exact phrases shown are not pupil data).

Verbs: ``record.edit`` (open the form), ``record.save`` (save; ``confirm`` + ``ack`` after a warning),
``record.action_done`` (mark one action done).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tsm.domain.feedback import COHORTS, MAX_ACTIONS, ActionOwner, Finding, show_count
from tsm.domain.text import day_text, plain
from tsm.services.records import RecordView

from .evaluation import card, execute, facts, text, when

VERBS = {"record.edit", "record.save", "record.action_done"}
MIN_ACTION_ROWS = 4  # empty rows on a new form; a saved record gets two spare rows, up to MAX_ACTIONS

NO_PUPIL_DATA = (
    "School-level figures only: no pupil names, UPNs, dates of birth or notes about individual "
    "pupils. Counts under 5 are shown as <5."
)


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v:.1f}%"


def record_card(v: RecordView) -> dict[str, Any]:
    """The record as saved, for the officer and the school."""
    body: list[dict[str, Any]] = [
        text("TSM record", weight="Bolder", size="Medium"),
        facts(
            [("School", v.school), ("Link officer", v.officer), ("Meeting", when(v.start, v.end, v.timezone))]
        ),
    ]
    if not v.exists:
        body.append(
            text(
                "No record has been written for this meeting yet. Either side can write it: the school's "
                "figures, the actions agreed and who leads."
            )
        )
        return card(
            body, [execute("Write the record", "record.edit", {"meetingId": v.meeting_id}, style="positive")]
        )
    f = v.figures
    body.append(text("School-level figures", weight="Bolder", spacing="Medium"))
    body.append(
        facts(
            [
                ("Overall attendance", _pct(f.attendance_pct)),
                ("Persistently absent (10%+)", show_count(f.pa)),
                ("Severely absent (50%+)", show_count(f.sa)),
                *[(label, show_count(f.cohort(k))) for k, label in COHORTS],
            ]
        )
    )
    if v.lead_practitioner:
        body.append(facts([("Lead practitioner", plain(v.lead_practitioner))]))
    if v.notes:  # typed by one side, read by the other: shown as written, never as markup
        body.append(text("Notes", weight="Bolder", spacing="Medium"))
        body.append(text(plain(v.notes)))
    body.append(text(f"Agreed actions ({len(v.actions)})", weight="Bolder", spacing="Medium"))
    actions: list[dict[str, Any]] = []
    if not v.actions:
        body.append(text("None recorded.", isSubtle=True))
    for i, a in enumerate(v.actions, 1):
        status = "✅ done" if a.done else f"due {day_text(a.due, year=True)}"
        body.append(text(f"{i}. {plain(a.text)}  \n_{plain(a.owner_label)}, {status}_"))
        if not a.done and a.id is not None and len(actions) < 4:
            actions.append(execute(f"Mark action {i} done", "record.action_done", {"actionId": a.id}))
    if v.updated_by:
        body.append(text(f"Last updated by {v.updated_by}.", isSubtle=True, size="Small"))
    actions.insert(0, execute("Edit the record", "record.edit", {"meetingId": v.meeting_id}))
    return card(body, actions)


def record_form(
    v: RecordView, *, draft: dict[str, Any] | None = None, findings: Sequence[Finding] = ()
) -> dict[str, Any]:
    """The form, prefilled from the saved record (small counts as "<5", which the save keeps as stored) or,
    after a warning, from what the user typed; ``findings`` puts the warning on top."""
    values = draft if draft is not None else _from_record(v)
    body: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    data = {"meetingId": v.meeting_id}
    if findings:
        body.append(
            {
                "type": "Container",
                "style": "warning",
                "items": [
                    text("⚠️ This may contain pupil data", weight="Bolder", size="Medium"),
                    text(
                        "TSM records hold school-level information only. These phrases look like a pupil's name, UPN or "
                        "date of birth:"
                    ),
                    *[text(f"- “{f.text}”: {f.label}") for f in findings],
                    text(
                        "Please edit them out and save again. If they are not about pupils (a member of staff, a service, "
                        "a place), you can save as written."
                        if not any(f.kind in ("upn", "dob") for f in findings)
                        else "Please edit them out and save again: a pupil's UPN or date of birth is never stored."
                    ),
                ],
            }
        )
        if not any(f.kind in ("upn", "dob") for f in findings):  # names only: the user may confirm them
            actions.append(
                execute(
                    "Save as written: not pupil data",
                    "record.save",
                    {**data, "confirm": True, "ack": [f.text for f in findings]},
                )
            )
    body += [
        text(
            "TSM record" if findings else ("Edit the TSM record" if v.exists else "Write the TSM record"),
            weight="Bolder",
            size="Medium",
        ),
        facts([("School", v.school), ("Meeting", when(v.start, v.end, v.timezone))]),
        text(NO_PUPIL_DATA, isSubtle=True, size="Small"),
    ]
    body.append(_input("attendance_pct", "Overall attendance this year (%)", values, placeholder="e.g. 93.4"))
    body.append(
        _columns(
            [
                _input("pa", "Persistently absent pupils (count)", values, placeholder="number"),
                _input("sa", "Severely absent pupils (count)", values, placeholder="number"),
            ]
        )
    )
    body.append(text("Cohort counts (optional)", weight="Bolder", spacing="Medium"))
    body.append(_columns([_input(k, label, values, placeholder="number") for k, label in COHORTS]))
    body.append(_input("lead_practitioner", "Lead practitioner (name and role)", values, max_len=120))
    body.append(
        {
            **_input("notes", "Notes (optional)", values, max_len=2000),
            "isMultiline": True,
            "placeholder": "Trends, approaches agreed, services involved. No pupil names.",
        }
    )
    body.append(text("Agreed actions", weight="Bolder", spacing="Medium"))
    filled = max([i for i in range(1, MAX_ACTIONS + 1) if values.get(f"action{i}_text")], default=0)
    for i in range(1, min(MAX_ACTIONS, max(MIN_ACTION_ROWS, filled + 2)) + 1):
        body.append(
            {
                "type": "Container",
                "separator": i > 1,
                "items": [
                    _input(f"action{i}_text", f"Action {i}", values, max_len=500),
                    # the owner on its own line: a drop-down in a third of a phone's width cuts its choice
                    {
                        "type": "Input.ChoiceSet",
                        "id": f"action{i}_owner",
                        "label": "Owner",
                        "value": values.get(f"action{i}_owner", "school") or "school",
                        "choices": [{"title": o.label, "value": o.value} for o in ActionOwner],
                    },
                    _columns(
                        [
                            _input(f"action{i}_detail", "Which service (if other)", values, max_len=120),
                            {
                                "type": "Input.Date",
                                "id": f"action{i}_due",
                                "label": "Due",
                                **(
                                    {"value": values[f"action{i}_due"]}
                                    if values.get(f"action{i}_due")
                                    else {}
                                ),
                            },
                        ]
                    ),
                ],
            }
        )
    actions.insert(0, execute("Save the record", "record.save", data, style="positive"))
    return card(body, actions)


def _from_record(v: RecordView) -> dict[str, Any]:
    f = v.figures
    d: dict[str, Any] = {
        "attendance_pct": "" if f.attendance_pct is None else f"{f.attendance_pct:.1f}",
        "pa": show_count(f.pa),
        "sa": show_count(f.sa),
        "lead_practitioner": v.lead_practitioner,
        "notes": v.notes,
    }
    for k, _ in COHORTS:
        d[k] = show_count(f.cohort(k))
    for i, a in enumerate(v.actions[:MAX_ACTIONS], 1):
        d[f"action{i}_text"], d[f"action{i}_owner"] = a.text, a.owner
        d[f"action{i}_detail"], d[f"action{i}_due"] = a.owner_detail, a.due.isoformat()
    return d


def _input(
    key: str, label: str, values: dict[str, Any], *, placeholder: str = "", max_len: int = 20
) -> dict[str, Any]:
    out = {
        "type": "Input.Text",
        "id": key,
        "label": label,
        "maxLength": max_len,
        "value": str(values.get(key) or ""),
    }
    if placeholder:
        out["placeholder"] = placeholder
    return out


def _columns(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "ColumnSet",
        "columns": [{"type": "Column", "width": "stretch", "items": [it]} for it in items],
    }
