"""Seoul addresses as the store finder and the learning-centre list write them: normalised,
and split into the district (구) and the legal dong (법정동) the bundled polygons know.

Why the legal dong: it is the finest unit we can place without a network (the polygons in
`include/data/geo` are legal dongs), and a road address names it in its reference part,
`서울 중랑구 봉우재로 59 (면목동)`. A dong is assigned only when the address itself names it
and the district's polygons contain that name; nothing is inferred from road or store names,
because such a guess can be wrong and a wrong dong puts a store on the wrong side of town.
An address without a dong stays at district precision, and the report says why.

Where the dong comes from, most trusted first: the first item in parentheses, `(면목동)`,
`(고덕동, 고덕센트럴푸르지오)`; the word after the district in a lot (지번) address,
`신림동 1234`; an administrative spelling whose legal dong is unambiguous in the district,
`상계1동` -> 상계동. `종로3가`, `을지로2가` and the like are legal dongs themselves.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retention.places.geocode import Gazetteer

SEOUL = "서울특별시"

# Only at the start: `서울대학로` (a road in 시흥, 경기) and `뉴서울종합 상가` (인천) contain 서울
# further in, and both bundled rows are outside Seoul.
_SEOUL_PREFIX = re.compile(r"^(?:서울특별시|서울시|서울)(?=\s|$)")

# Full-width ASCII (U+FF01..FF5E, which includes the full-width brackets) and the ideographic
# space, mapped to their ASCII forms. Not NFKC: that would also rewrite ㈜, ①, ㎡ and the like,
# which is more than "normalise" should do to an address a person will read.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: ord(" ")}

_TRUNCATION_MARK = re.compile(r"\s*(?:\.\.\.|…)$")

# The reference part of a road address, `(면목동)` or `(고덕동, 고덕센트럴푸르지오)`; the
# last one may be cut open by the site's truncation: `(수서동, ...`.
_PARENTHESES = re.compile(r"\(([^()]*)(?:\)|$)")

# Administrative-dong spellings: `상계1동`, `중계2·3동`, `화곡본동`.
_ADMINISTRATIVE_DONG = re.compile(r"^(?P<stem>[가-힣]+?)(?:\d+(?:·\d+)*|본)동$")

# Something that reads as a dong name (used only to explain a miss, never to assign a dong).
_DONG_LIKE = re.compile(r"^[가-힣][가-힣0-9·]*(?:동|\d가)$")

# Stems whose numbered administrative dongs are believed to reach outside the legal dong of
# the same stem, so `<stem>N동` -> `<stem>동` could be wrong: 잠실6동 (송파구) covers legal
# 신천동, 오류2동 (구로구) covers 천왕동 and 항동. From the public administrative map, not
# checkable here (the bundled polygons are legal dongs only); an entry can only cost a dong,
# never place one wrongly, so add a stem when in doubt.
_ADMINISTRATIVE_STEMS_NOT_MAPPED = {("11710", "잠실"), ("11530", "오류")}

# Where a dong came from, most trusted first.
DONG_FROM_PARENTHESES = "parentheses"
DONG_FROM_LOT_ADDRESS = "lot_address"
DONG_FROM_ADMINISTRATIVE_NAME = "administrative_dong"

# Joins the names in `dong_candidate` when an address names two different legal dongs.
TWO_DONGS_SEPARATOR = " / "


@dataclass(frozen=True)
class ParsedAddress:
    """One address, read: what it says about where the place is, and nothing guessed."""

    raw: str
    normalised: str
    """`normalise_address(raw)`."""
    district: str | None
    """District (구) as the polygons name it, e.g. `강남구`; None outside Seoul or when the
    address does not name one right after the city."""
    district_code: str | None
    """SIG_CD of that district (5 digits), e.g. `11680`."""
    dong: str | None
    """Legal dong (법정동) as the polygons name it, e.g. `삼성동`, `종로3가`; only a name the
    address gives (or its unambiguous administrative form) and that district's polygons have."""
    dong_code: str | None
    """EMD_CD of that dong (8 digits, the first 5 are `district_code`)."""
    dong_source: str | None
    """`parentheses`, `lot_address` or `administrative_dong`: how far to trust `dong`."""
    dong_candidate: str | None
    """A dong-like name the address gave that could not be assigned (not a legal dong of the
    district), or two legal dongs joined by `TWO_DONGS_SEPARATOR`; kept to explain the miss,
    never used to place."""
    truncated: bool
    """The site cut the text (it ends in `...` or `…`); what followed is lost."""
    in_seoul: bool
    """The address starts with one of the Seoul spellings. An address with no city at all is
    not assumed to be in Seoul: 중구 and 강서구 exist in other cities too."""


def normalise_address(text: str) -> str:
    """One spelling for the same address: NFC, ASCII brackets and spaces, single spaces, and
    `서울특별시` for `서울시` / `서울`. The rest is kept as written (it is shown to people and
    is the key of the geocoding cache, so two spellings of one address share a cache row)."""
    text = unicodedata.normalize("NFC", text).translate(_FULL_WIDTH)
    text = " ".join(text.split())
    return _SEOUL_PREFIX.sub(SEOUL, text)


def parse_address(text: str, gazetteer: Gazetteer) -> ParsedAddress:
    """Read district and legal dong from an address; see the module docstring for the rules."""
    normalised = normalise_address(text)
    truncated = _TRUNCATION_MARK.search(normalised) is not None
    tokens = normalised.split(" ")
    in_seoul = tokens[0] == SEOUL
    district_code = gazetteer.district_code(tokens[1]) if in_seoul and len(tokens) > 1 else None
    if district_code is None:
        return ParsedAddress(
            raw=text,
            normalised=normalised,
            district=None,
            district_code=None,
            dong=None,
            dong_code=None,
            dong_source=None,
            dong_candidate=None,
            truncated=truncated,
            in_seoul=in_seoul,
        )
    rest = _TRUNCATION_MARK.sub("", normalised.split(" ", 2)[2] if len(tokens) > 2 else "")
    dong, source, candidate = _find_dong(rest, district_code, gazetteer, truncated=truncated)
    return ParsedAddress(
        raw=text,
        normalised=normalised,
        district=tokens[1],
        district_code=district_code,
        dong=dong,
        dong_code=gazetteer.dong_code(district_code, dong) if dong else None,
        dong_source=source,
        dong_candidate=candidate,
        truncated=truncated,
        in_seoul=True,
    )


def geocoding_query(parsed: ParsedAddress) -> str:
    """The part of the address an online geocoder should get: city, district, road and
    building number (or dong and lot number), without floor, unit, building or store name.

    Kakao's guide asks for exactly this ("exclude detailed addresses such as building names
    ... from the query"); `서울특별시 강남구 선릉로 515 KT 플라자 선릉사거리점` becomes
    `서울특별시 강남구 선릉로 515`. When no such pattern is found the whole text is sent.
    """
    text = _TRUNCATION_MARK.sub("", parsed.normalised)
    if parsed.district is None:
        return text
    head = f"{SEOUL} {parsed.district} "
    rest = text[len(head) :] if text.startswith(head) else ""
    match = _ROAD_ADDRESS.match(rest) or _LOT_ADDRESS.match(rest)
    return head + match.group(0) if match else text


# `선릉로 515`, `통일로78가길 13-84`, `동일로 204가길 34`, `강남대로453`, `새말로 지하117-21`.
_ROAD_ADDRESS = re.compile(r"[가-힣A-Za-z0-9·]+(?:로|길)(?: \d+[가-힣]?길)? ?(?:지하 ?)?\d+(?:-\d+)?(?![\d-])")
# `신림동 1234`, `봉천동 산 12-3`.
_LOT_ADDRESS = re.compile(r"[가-힣0-9·]+(?:동|가) (?:산 ?)?\d+(?:-\d+)?(?![\d-])")


def _find_dong(
    rest: str, district_code: str, gazetteer: Gazetteer, *, truncated: bool
) -> tuple[str | None, str | None, str | None]:
    """(dong, source, unassigned candidate) from the text after the district."""
    names = gazetteer.dong_names(district_code)

    # 1. The reference part of a road address. By the road-address rules its first item is
    # the legal dong and the rest are building names; so only first items are read (all 524
    # bundled rows that name a dong have it there). `(봉천동 1712-9)` keeps its first word.
    firsts: list[str] = []
    found: list[str] = []
    candidate: str | None = None
    for group in _PARENTHESES.finditer(rest):
        first_item, comma, _ = group.group(1).partition(",")
        word = first_item.strip().split(" ", 1)[0]
        if not word:
            continue
        firsts.append(word)
        # A name the site's truncation may have cut (`(당산동...` could be 당산동1가) counts
        # only when no other dong of the district starts with it.
        may_be_cut = truncated and not comma and group.end() == len(rest) and not group.group(0).endswith(")")
        if word in names and not (may_be_cut and _is_prefix_of_another(word, names)):
            found.append(word)
        elif candidate is None and not may_be_cut and _DONG_LIKE.match(word):
            candidate = word
    distinct = list(dict.fromkeys(found))
    if len(distinct) == 1:
        return distinct[0], DONG_FROM_PARENTHESES, None
    if len(distinct) > 1:
        return None, None, TWO_DONGS_SEPARATOR.join(distinct)

    # 2. A lot-number (지번) address names the dong right after the district: `신림동 1234`.
    first_word = rest.split(" ", 1)[0] if rest and not rest.startswith("(") else ""
    if first_word in names:
        return first_word, DONG_FROM_LOT_ADDRESS, None

    # 3. An administrative dong (`상계1동`, in a lot address or in parentheses) whose stem is a
    # legal dong of the district. Only when the stem names exactly one legal dong there: with
    # 당산동 next to 당산동1가..6가 (영등포구), 당산1동 is mostly the 가 dongs, not 당산동.
    for word in [first_word, *firsts]:
        legal = _legal_dong_of_administrative(word, district_code, names)
        if legal:
            return legal, DONG_FROM_ADMINISTRATIVE_NAME, None
    if candidate is None and first_word and _DONG_LIKE.match(first_word):
        candidate = first_word
    return None, None, candidate


def _is_prefix_of_another(name: str, names: frozenset[str]) -> bool:
    return any(other != name and other.startswith(name) for other in names)


def _legal_dong_of_administrative(word: str, district_code: str, names: frozenset[str]) -> str | None:
    match = _ADMINISTRATIVE_DONG.match(word) if word else None
    if match is None or word in names:
        return None
    stem = match.group("stem")
    if (district_code, stem) in _ADMINISTRATIVE_STEMS_NOT_MAPPED:
        return None
    same_stem = [name for name in names if name.startswith(stem)]
    return same_stem[0] if same_stem == [f"{stem}동"] else None
