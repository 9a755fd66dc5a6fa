"""The one rule for pupil data in free text, wherever a person types words the service keeps or passes on
(cancellation and no-show reasons, "senior leader can't attend" notes, attendee names and emails, evaluation
comments, TSM records).

Schools hand the LA no pupil-level data (Kent's FAQ; UK GDPR data minimisation for children's data). The
heuristic that spots it is :func:`tsm.domain.feedback.find_pupil_data`; this module decides what follows:

- a **UPN or a date of birth** is never stored nor sent on: the text is refused, whatever the user confirms
  (no "not pupil data" override: an identifier is never a false alarm worth keeping);
- a **likely name** is refused too, naming the words flagged, and the user edits them (for staff: their role,
  or the name of a school contact or officer, which are allowed words). Only the TSM record's form keeps a
  confirmation for names (``acknowledged``: the exact phrases the user was shown), because it carries a
  warning card with the draft; a field whose content *is* a name (an attendee's, the lead practitioner's)
  passes ``names=False``.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import InvalidInput
from .feedback import Finding, find_pupil_data, unacknowledged
from .text import clean_text

IDENTIFIERS = ("upn", "dob")


def identifiers(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that are never stored: UPNs and dates of birth."""
    return [f for f in findings if f.kind in IDENTIFIERS]


def pending(findings: Iterable[Finding], acknowledged: Iterable[str] = ()) -> list[Finding]:
    """What still stops a save: every identifier (acknowledging one changes nothing), and the names the user has
    not confirmed by their exact phrase."""
    findings = list(findings)
    names = [f for f in findings if f.kind not in IDENTIFIERS]
    return identifiers(findings) + unacknowledged(names, acknowledged)


def check_free_text(text: str, *, label: str, allowed: Iterable[str] = (), names: bool = True) -> str:
    """``text`` unchanged when it holds no pupil data; else InvalidInput with a sentence naming the words to
    edit (nothing is saved). ``label``: the field, as the sentence says it ("your reason")."""
    if not text:  # equivalent-mutant[delete]: find_pupil_data finds nothing in "", and "" is returned below
        return text  # equivalent-mutant[delete]: falling through returns the same "" at the end
    found = find_pupil_data(text, allowed=allowed)
    ids = identifiers(found)
    if ids:
        what = "a pupil's UPN" if ids[0].kind == "upn" else "a pupil's date of birth"
        raise InvalidInput(
            f"Please remove “{ids[0].text}” from {label}: it looks like {what}, and a pupil's UPN or "
            "date of birth is never stored or passed on. Nothing was saved."
        )
    flagged = [f.text for f in found if f.kind == "name"] if names else []
    if flagged:
        words = ", ".join(f"“{w}”" for w in flagged[:3])
        raise InvalidInput(
            f"{words} in {label} may be a pupil's name: please edit {'it' if len(flagged) == 1 else 'them'} "
            "out and send it again (for a member of staff, use their role). Nothing was saved."
        )
    return text


def free_text(
    value: object,
    *,
    label: str,
    max_len: int,
    required: bool = False,
    allowed: Iterable[str] = (),
    names: bool = True,
) -> str:
    """A free-text answer cleaned (:func:`tsm.domain.text.clean_text`) and checked for pupil data."""
    return check_free_text(
        clean_text(value, label=label, max_len=max_len, required=required),
        label=label,
        allowed=allowed,
        names=names,
    )
