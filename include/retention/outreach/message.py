"""The senior offer SMS: a template marketers edit, filled in, shortened by rule, and checked
against the law before it can be sent.

The wording belongs to marketers and the rules belong to the code. The template
(`templates/senior_offer_ko.txt`, whose syntax is documented at its top) marks the parts that
may be dropped to save length, `[[name: text]]`, and the order to drop them in,
`@drop-order: a, b`. Rendering drops whole parts only, so no word or place name is ever cut,
and it measures the text again after each drop. Whatever the template says, `check_compliance`
runs on the final text: no message is produced that fails to start with `(광고)` and the
sender, or to end with the free 080 opt-out (Information and Communications Network Act,
art. 50).

Length: Hangul forces UCS-2, 70 UTF-16 code units in a single SMS and 67 per part of a
concatenated one (each part loses room to the concatenation header). GSM-7 applies only when
every character is in the GSM 03.38 basic set or its extension table, where an extension
character takes two septets: 160 single, 153 per part. Phones never receive a character split
across two parts (a surrogate pair or an escape sequence), so parts are packed character by
character rather than by dividing the total.
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DEFAULT_TEMPLATE = Path(__file__).resolve().parent / "templates" / "senior_offer_ko.txt"

AD_MARK = "(광고)"
OPT_OUT_LABEL = "무료수신거부"
DEMO_OPT_OUT_NUMBER = "080-000-0000"
"""The opt-out number of local runs (demo, `make airflow-ui`): it reaches no one, so a real
transport refuses to send while it is configured (`transport_setup.transport_and_clock`)."""

# How the message names each kind of plaza (the site's own words), placeholder `{plaza_kind}`.
PLAZA_KINDS = {"kt_plaza": "KT 플라자", "kt_experience_plaza": "KT 체험형 플라자"}

# What a template can write in braces (documented at the top of the template).
PLACEHOLDERS = (
    "sender", "opt_out_number", "venue_name", "venue_address", "venue_distance_km",
    "plaza_kind", "plaza_name", "plaza_address", "plaza_distance_km",
)  # fmt: skip
# Every message needs these; a template may not put them in a part that can be dropped.
NEVER_OPTIONAL = ("sender", "venue_name", "opt_out_number")

GSM7 = "GSM-7"
UCS2 = "UCS-2"
# Units in a single message and in each part of a concatenated one.
_LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}

# GSM 03.38 basic set (127 characters: the 128 code points minus the escape to the extension
# table) and the extension table, whose characters are sent as escape + character.
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

_OPT_OUT_NUMBER = re.compile(r"080-\d{3,4}-\d{4}")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_LEFTOVER_PLACEHOLDER = re.compile(r"\{[^{}\n]*\}")
_OPTIONAL_PART = re.compile(r"\[\[(?P<name>[^\[\]:\n]*):(?P<text>.*?)\]\]")
_PART_NAME = re.compile(r"\w+")


class MessageError(ValueError):
    """The message cannot be produced; nothing may be sent for this offer."""


class TemplateError(MessageError):
    """The template file is malformed: the marketer's edit needs fixing (the error says where)."""


class ComplianceError(MessageError):
    """The rendered text would break art. 50; `problems` lists each rule it breaks."""

    def __init__(self, template: Path, problems: list[str]):
        self.problems = problems
        super().__init__(
            f"the SMS rendered from {template} would break the Network Act, art. 50: {'; '.join(problems)}. "
            "Fix the template (its rules are written at its top)."
        )


class MessageTooLong(MessageError):
    """Even with every optional part dropped the message needs more segments than allowed."""

    def __init__(self, text: str, segments: int, max_segments: int, template: Path):
        self.text, self.segments, self.max_segments = text, segments, max_segments
        super().__init__(
            f"the SMS needs {segments} segments with every optional part of {template} dropped; the limit is "
            f"{max_segments} (RETENTION_SMS_MAX_SEGMENTS). Shorten the template's fixed wording or raise the "
            f"limit. Shortest text: {text!r}"
        )


@dataclass(frozen=True, kw_only=True)
class MessageSettings:
    """What the campaign configures: who sends, where to opt out, how long a message may be."""

    sender: str = "KT"
    """Sender name the law requires right after `(광고)`; env RETENTION_SMS_SENDER_NAME."""
    opt_out_number: str
    """Free (080) number that opts the recipient out; env RETENTION_SMS_OPT_OUT_NUMBER, no default:
    a made-up number in a real message would leave recipients unable to opt out."""
    max_segments: int = 3
    """Most parts one message may take (each is billed); env RETENTION_SMS_MAX_SEGMENTS."""
    template: Path = DEFAULT_TEMPLATE

    def __post_init__(self) -> None:
        if not self.sender.strip() or "\n" in self.sender:
            raise ValueError(f"SMS sender name {self.sender!r} (RETENTION_SMS_SENDER_NAME) must be one non-empty line")
        if not _OPT_OUT_NUMBER.fullmatch(self.opt_out_number):
            raise ValueError(
                f"opt-out number {self.opt_out_number!r} (RETENTION_SMS_OPT_OUT_NUMBER) is not a free Korean "
                "080 number: write it as 080-XXX-XXXX or 080-XXXX-XXXX"
            )
        if isinstance(self.max_segments, bool) or not isinstance(self.max_segments, int) or self.max_segments < 1:
            raise ValueError(f"RETENTION_SMS_MAX_SEGMENTS must be a whole number >= 1, got {self.max_segments!r}")
        object.__setattr__(self, "template", Path(self.template))

    @classmethod
    def from_env(cls) -> MessageSettings:
        opt_out_number = os.environ.get("RETENTION_SMS_OPT_OUT_NUMBER", "").strip()
        if not opt_out_number:
            raise ValueError(
                "RETENTION_SMS_OPT_OUT_NUMBER is not set: set it to the campaign's free opt-out number "
                "(080-XXX-XXXX or 080-XXXX-XXXX); every advertising SMS must end with it (Network Act, art. 50)"
            )
        raw_max = os.environ.get("RETENTION_SMS_MAX_SEGMENTS", "3").strip()
        try:
            max_segments = int(raw_max)
        except ValueError:
            raise ValueError(f"RETENTION_SMS_MAX_SEGMENTS must be a whole number >= 1, got {raw_max!r}") from None
        return cls(
            sender=os.environ.get("RETENTION_SMS_SENDER_NAME", "").strip() or "KT",
            opt_out_number=opt_out_number,
            max_segments=max_segments,
        )


@dataclass(frozen=True, kw_only=True)
class Offer:
    """What one senior is offered: the nearest venue and plaza, as `core.places` names them."""

    venue_name: str
    venue_address: str
    venue_distance_km: float
    plaza_name: str
    plaza_address: str
    plaza_distance_km: float
    plaza_type: str
    """`kt_plaza` or `kt_experience_plaza` (core.places.place_type)."""

    def __post_init__(self) -> None:
        for name in ("venue_name", "venue_address", "plaza_name", "plaza_address"):
            if not getattr(self, name).strip():
                raise ValueError(f"offer {name} is empty: {self!r}")
        for name in ("venue_distance_km", "plaza_distance_km"):
            distance = getattr(self, name)
            if not (math.isfinite(distance) and distance >= 0):
                raise ValueError(f"offer {name} must be a distance in km (finite, >= 0), got {distance!r}")
        if self.plaza_type not in PLAZA_KINDS:
            raise ValueError(f"offer plaza_type {self.plaza_type!r} is not one of {sorted(PLAZA_KINDS)}")


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str
    """`GSM-7` or `UCS-2`."""
    length: int
    """In the encoding's units: septets for GSM-7, UTF-16 code units for UCS-2."""
    segments: int
    units_per_segment: int
    """160 or 70 when the text fits one SMS, 153 or 67 per part when it is split."""


@dataclass(frozen=True)
class RenderedMessage:
    text: str
    encoding: str
    length: int
    segments: int
    dropped: tuple[str, ...]
    """Names of the optional parts left out to fit, in the order they were dropped."""


@dataclass(frozen=True)
class TemplatePart:
    text: str
    optional: str | None
    """Name of the optional part this text belongs to; None for text every message carries."""


@dataclass(frozen=True)
class Template:
    path: Path
    parts: tuple[TemplatePart, ...]
    drop_order: tuple[str, ...]

    def body(self, dropped: Collection[str] = ()) -> str:
        """The template's text without comments and without the optional parts named in `dropped`."""
        return "".join(part.text for part in self.parts if part.optional is None or part.optional not in dropped)


def segment_info(text: str) -> SegmentInfo:
    """How `text` travels as SMS: its encoding, its length in that encoding's units, and its parts."""
    if all(char in _GSM7_BASIC or char in _GSM7_EXTENSION for char in text):
        encoding, costs = GSM7, [2 if char in _GSM7_EXTENSION else 1 for char in text]
    else:
        encoding, costs = UCS2, [2 if ord(char) > 0xFFFF else 1 for char in text]
    single, per_part = _LIMITS[encoding]
    length = sum(costs)
    if length <= single:
        return SegmentInfo(encoding, length, 1, single)
    segments, room = 1, per_part
    for cost in costs:
        if cost > room:  # the character would straddle two parts: it starts the next one
            segments, room = segments + 1, per_part
        room -= cost
    return SegmentInfo(encoding, length, segments, per_part)


def check_compliance(text: str, settings: MessageSettings) -> list[str]:
    """What makes `text` unlawful as an advertising SMS (Network Act, art. 50); empty when nothing."""
    problems = []
    if not text.startswith(AD_MARK):
        problems.append(f"it must start with exactly {AD_MARK!r}, but starts with {text[:10]!r}")
    else:
        sender = re.escape(settings.sender)
        if not re.match(rf" ?(?:\[{sender}\]|{sender}(?=[\s,.:]|$))", text[len(AD_MARK) :]):
            problems.append(f"it must name the sender {settings.sender!r} right after {AD_MARK!r}")
    opt_out = f"{OPT_OUT_LABEL} {settings.opt_out_number}"
    if not text.endswith(opt_out):
        other_number = re.search(rf"{OPT_OUT_LABEL}\s*(\S+)\s*$", text)
        if other_number and other_number.group(1) != settings.opt_out_number:
            problems.append(
                f"its opt-out number {other_number.group(1)!r} is not the configured {settings.opt_out_number!r}"
            )
        else:
            problems.append(f"it must end with the free opt-out {opt_out!r}")
    for placeholder in sorted(set(_LEFTOVER_PLACEHOLDER.findall(text))):
        problems.append(f"placeholder {placeholder} was left unfilled (known: {', '.join(PLACEHOLDERS)})")
    return problems


def render(offer: Offer, settings: MessageSettings) -> RenderedMessage:
    """The SMS for `offer`: the template filled in, shortened by its drop order until it fits
    `settings.max_segments`, and lawful, or an exception saying why there is none."""
    template = load_template(settings.template)
    values = _placeholder_values(offer, settings)
    # A template that is unlawful in full is reported as such, not as a length problem.
    _raise_on_problems(_fill(template.body(), values), settings, template)
    dropped: list[str] = []
    while True:
        text = _fill(template.body(dropped), values)
        info = segment_info(text)
        if info.segments <= settings.max_segments:
            break
        if len(dropped) == len(template.drop_order):
            raise MessageTooLong(text, info.segments, settings.max_segments, template.path)
        dropped.append(template.drop_order[len(dropped)])
    _raise_on_problems(text, settings, template)
    return RenderedMessage(text, info.encoding, info.length, info.segments, tuple(dropped))


def load_template(path: Path) -> Template:
    """The parsed template at `path`, re-read only when the file changes."""
    try:
        stat = Path(path).stat()
    except FileNotFoundError:
        raise TemplateError(f"SMS template {path} not found: restore it, or set MessageSettings.template") from None
    return _parse_template(Path(path), stat.st_mtime_ns, stat.st_size)


def _placeholder_values(offer: Offer, settings: MessageSettings) -> dict[str, str]:
    values = {
        "sender": settings.sender,
        "opt_out_number": settings.opt_out_number,
        "venue_name": offer.venue_name,
        "venue_address": offer.venue_address,
        "venue_distance_km": f"{offer.venue_distance_km:.1f}km",
        "plaza_kind": PLAZA_KINDS[offer.plaza_type],
        "plaza_name": offer.plaza_name,
        "plaza_address": offer.plaza_address,
        "plaza_distance_km": f"{offer.plaza_distance_km:.1f}km",
    }
    # One line each: a value must not be able to add lines to the message.
    return {name: " ".join(value.split()) for name, value in values.items()}


def _fill(body: str, values: dict[str, str]) -> str:
    """Placeholders replaced (unknown ones left for `check_compliance` to report), then NFC (a
    decomposed Hangul syllable would count three units) and whitespace normalised: one space
    between words, no blank lines or stray spaces left where optional parts were dropped."""
    filled = _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), body)
    lines = (" ".join(line.split()) for line in unicodedata.normalize("NFC", filled).split("\n"))
    return "\n".join(line for line in lines if line)


def _raise_on_problems(text: str, settings: MessageSettings, template: Template) -> None:
    problems = check_compliance(text, settings)
    if problems:
        raise ComplianceError(template.path, problems)


@lru_cache(maxsize=16)
def _parse_template(path: Path, mtime_ns: int, size: int) -> Template:
    """Comments (`#` lines) and the `@drop-order:` line are read out; every other line is message
    text, split into the parts every message carries and the optional `[[name: text]]` parts."""
    raw = unicodedata.normalize("NFC", path.read_text(encoding="utf-8-sig"))  # -sig: editors may add a BOM
    parts: list[TemplatePart] = []
    drop_order: tuple[str, ...] | None = None
    for number, line in enumerate(raw.splitlines(), start=1):
        where = f"{path}, line {number}"
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        if stripped.startswith("@"):
            key, _, value = stripped[1:].partition(":")
            if key.strip() != "drop-order" or drop_order is not None:
                raise TemplateError(f"{where}: only one '@drop-order: name, name, ...' line is allowed, got {line!r}")
            drop_order = tuple(name.strip() for name in value.split(",") if name.strip())
            continue
        parts.extend(_parse_line(line, where))
        parts.append(TemplatePart("\n", None))
    _check_optional_parts(path, parts, drop_order or ())
    return Template(path, tuple(parts), drop_order or ())


def _parse_line(line: str, where: str) -> list[TemplatePart]:
    parts, position = [], 0
    for match in _OPTIONAL_PART.finditer(line):
        name, text = match["name"].strip(), match["text"]
        if not _PART_NAME.fullmatch(name):
            raise TemplateError(f"{where}: optional part name {name!r} must be one word, as in [[venue_address: ...]]")
        if "[[" in text:
            raise TemplateError(f"{where}: optional parts cannot be nested: {match.group(0)!r}")
        for placeholder in _PLACEHOLDER.findall(text):
            if placeholder in NEVER_OPTIONAL:
                raise TemplateError(f"{where}: {{{placeholder}}} must be in every message, not inside [[{name}: ...]]")
        parts += [TemplatePart(line[position : match.start()], None), TemplatePart(text, name)]
        position = match.end()
    parts.append(TemplatePart(line[position:], None))
    for part in parts:
        if part.optional is None and ("[[" in part.text or "]]" in part.text):
            raise TemplateError(f"{where}: an optional part must be written [[name: text]] on one line: {line!r}")
    return parts


def _check_optional_parts(path: Path, parts: list[TemplatePart], drop_order: tuple[str, ...]) -> None:
    used = {part.optional for part in parts if part.optional is not None}
    if len(set(drop_order)) != len(drop_order):
        raise TemplateError(f"{path}: @drop-order names a part twice: {', '.join(drop_order)}")
    if missing := sorted(used - set(drop_order)):
        raise TemplateError(f"{path}: optional parts {missing} are not in the @drop-order line: add them to it")
    if unknown := sorted(set(drop_order) - used):
        raise TemplateError(f"{path}: @drop-order names {unknown}, which no [[name: ...]] part in the template has")
    if not any(part.optional is None and "{venue_name}" in part.text for part in parts):
        raise TemplateError(f"{path}: the message must name the venue: put {{venue_name}} outside any [[ ]] part")
