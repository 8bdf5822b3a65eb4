"""The informational notices the Network Act makes the sender owe every recipient: the two-year
consent re-confirmation (art. 50(8)) and the result of a consent, opt-out or withdrawal
(art. 50(7)). One template per kind in `templates/notice_<kind>_ko.txt` (comments at the top).

They are not advertising: a notice never carries `(광고)` (that mark tells the phone and the
reader that an advertisement follows) and never an offer; it starts with the sender in
brackets. `check_notice` refuses any text that breaks those rules or leaves out what the
Enforcement Decree lists (the dates; for a re-confirmation and a new consent, how to withdraw).
Length is counted like the offer's (`message.segment_info`: UCS-2, 70 single / 67 per part).
"""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass
from pathlib import Path

from retention.outreach.message import AD_MARK, TemplateError, segment_info

TEMPLATES = Path(__file__).resolve().parent / "templates"
RECONFIRMATION = "consent_reconfirmation"
REQUEST_KINDS = ("opt_out", "consent_withdrawn", "consent")
"""What a request asked for: stop the advertisements (080, STOP, the contacts' flag), withdraw a
consent (the contacts' consent flag cleared), or consent (a new or renewed consent date)."""
KINDS = (RECONFIRMATION, *REQUEST_KINDS)
_REQUIRED = {
    RECONFIRMATION: ("sender", "consent_date", "opt_out_number"),
    "opt_out": ("sender", "requested_date", "processed_date"),
    "consent_withdrawn": ("sender", "requested_date", "processed_date"),
    "consent": ("sender", "requested_date", "processed_date", "opt_out_number"),
}
_OFFER_WORDS = ("할인", "혜택", "무료 교육", "{venue_name}", "{plaza_name}")


@dataclass(frozen=True)
class Notice:
    text: str
    encoding: str
    segments: int


def template_path(kind: str) -> Path:
    if kind not in KINDS:
        raise ValueError(f"unknown notice kind {kind!r}: one of {', '.join(KINDS)}")
    return TEMPLATES / f"notice_{kind}_ko.txt"


def _template(kind: str) -> str:
    path = template_path(kind)
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    body = "\n".join(line.rstrip() for line in lines if line.strip() and not line.lstrip().startswith("#"))
    used = {field for _, field, _, _ in string.Formatter().parse(body) if field}
    if missing := [name for name in _REQUIRED[kind] if name not in used]:
        raise TemplateError(f"{path}: the notice must give {', '.join('{' + n + '}' for n in missing)} "
                            "(Enforcement Decree art. 62-2 / 62-3): put the placeholder back")
    if unknown := sorted(used - set(_REQUIRED[kind])):
        raise TemplateError(f"{path}: unknown placeholder(s) {unknown}; this notice knows {list(_REQUIRED[kind])}")
    return body


def _date(day: dt.date | None) -> str:
    return f"{day.year}년 {day.month}월 {day.day}일" if day else ""


def render_notice(kind: str, *, sender: str, opt_out_number: str, max_segments: int,
                  consent_date: dt.date | None = None, requested_on: dt.date | None = None,
                  processed_on: dt.date | None = None) -> Notice:
    """The notice of `kind`, filled in and checked; `TemplateError` when the template is wrong
    (the same for every recipient: fix the file), never a silently shortened notice."""
    values = {"sender": sender, "opt_out_number": opt_out_number, "consent_date": _date(consent_date),
              "requested_date": _date(requested_on or processed_on), "processed_date": _date(processed_on)}
    text = _template(kind).format(**{name: values[name] for name in _REQUIRED[kind]})
    if problems := check_notice(text, sender=sender):
        raise TemplateError(f"{template_path(kind)}: {'; '.join(problems)}")
    info = segment_info(text)
    if info.segments > max_segments:
        raise TemplateError(f"{template_path(kind)}: the notice takes {info.segments} SMS parts, more than "
                            f"RETENTION_NOTICE_MAX_SEGMENTS={max_segments}: shorten its wording")
    return Notice(text, info.encoding, info.segments)


def check_notice(text: str, *, sender: str) -> list[str]:
    """What makes `text` wrong as an informational notice; empty when nothing."""
    problems = []
    if AD_MARK in text:
        problems.append(f"a notice is not advertising and must not carry {AD_MARK!r}")
    if not text.startswith(f"[{sender}]"):
        problems.append(f"it must start with the sender in brackets, [{sender}]")
    if offer := [word for word in _OFFER_WORDS if word in text]:
        problems.append(f"a notice must not carry an offer (found {offer})")
    if "{" in text or "}" in text:
        problems.append("a placeholder was left unfilled")
    return problems
