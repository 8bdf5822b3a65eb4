"""The senior offer SMS: how many parts a text takes, real Seoul offers rendered lawful, shortening
by the template's rule without cutting a word, and the art. 50 checks that stop an unlawful
message whatever the template says.

Places are rows of the bundled 2023 crawls (include/data/places), exactly as listed there.
"""

from __future__ import annotations

import csv
import unicodedata

import pytest

from retention.config import BUNDLED_DATA_DIR
from retention.outreach.message import (
    DEFAULT_TEMPLATE,
    ComplianceError,
    MessageSettings,
    MessageTooLong,
    Offer,
    TemplateError,
    check_compliance,
    load_template,
    render,
    segment_info,
)

OPT_OUT = "080-000-0000"
SETTINGS = MessageSettings(opt_out_number=OPT_OUT)


def _rows(file_name: str, key: str) -> dict[str, dict[str, str]]:
    with open(BUNDLED_DATA_DIR / "places" / file_name, encoding="utf-8-sig", newline="") as f:
        return {row[key]: row for row in csv.DictReader(f)}


VENUES = _rows("digital_learning_centers_seoul_2023.csv", "장소명")
STORES = _rows("kt_stores_seoul_2023.csv", "장소")
PLAZA_TYPES = {"[플라자]": "kt_plaza", "[체험형 플라자]": "kt_experience_plaza"}


def offer(venue: str, plaza: str, venue_km: float = 1.2, plaza_km: float = 2.3) -> Offer:
    return Offer(
        venue_name=venue,
        venue_address=VENUES[venue]["주소명"],
        venue_distance_km=venue_km,
        plaza_name=plaza,
        plaza_address=STORES[plaza]["주소"],
        plaza_distance_km=plaza_km,
        plaza_type=PLAZA_TYPES[STORES[plaza]["장소타입"]],
    )


# Short names and addresses; 송파복지센터, 서울특별시 송파구 충민로 184 (장지동).
SHORT = ("송파복지센터", "KT 플라자 선릉사거리점")
# The longest venue of the list and an experience plaza whose listed address is cut with '...'.
LONG = ("성현동주민센터(정보화교육장)", "KT플라자 강남역점(KT애비뉴)")

# The shipped template's shape, fixed here so that the rule is tested apart from the wording
# marketers may change in the real file.
TEST_TEMPLATE = """\
# test copy of the shipped template
@drop-order: distance, plaza_address, venue_address
(광고)[{sender}] 고객님, 가까운 디지털 배움터에서 무료 스마트폰 교육을 마치시면 요금을 10% 할인해 드립니다.
▶배움터: {venue_name}[[distance: ({venue_distance_km})]]
[[venue_address: {venue_address}]]
▶{plaza_kind}: {plaza_name}[[distance: ({plaza_distance_km})]]
[[plaza_address: {plaza_address}]]
무료수신거부 {opt_out_number}
"""


@pytest.fixture
def template_file(tmp_path):
    """Writes a template and returns settings that use it."""

    def write(text: str = TEST_TEMPLATE, max_segments: int = 3, encoding: str = "utf-8") -> MessageSettings:
        path = tmp_path / "template.txt"
        path.write_text(text, encoding=encoding)
        return MessageSettings(opt_out_number=OPT_OUT, max_segments=max_segments, template=path)

    return write


# --- segments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hangul", "segments", "per_segment"),
    [(70, 1, 70), (71, 2, 67), (134, 2, 67), (135, 3, 67), (201, 3, 67), (202, 4, 67)],
)
def test_hangul_is_ucs2_with_70_in_one_sms_and_67_per_part(hangul, segments, per_segment):
    info = segment_info("가" * hangul)
    assert (info.encoding, info.length, info.segments, info.units_per_segment) == (
        "UCS-2", hangul, segments, per_segment
    )


@pytest.mark.parametrize(
    ("latin", "segments", "per_segment"), [(160, 1, 160), (161, 2, 153), (306, 2, 153), (307, 3, 153)]
)
def test_gsm7_text_has_160_in_one_sms_and_153_per_part(latin, segments, per_segment):
    info = segment_info("a" * latin)
    assert (info.encoding, info.length, info.segments, info.units_per_segment) == (
        "GSM-7", latin, segments, per_segment
    )


def test_gsm7_extension_characters_count_two_and_are_never_split_across_parts():
    assert segment_info("[KT] Hello").length == 12
    assert segment_info("€" * 80).segments == 1  # 160 septets
    assert (segment_info("€" * 80 + "a").length, segment_info("€" * 80 + "a").segments) == (161, 2)
    assert segment_info("{}\\^~|\f").encoding == "GSM-7"
    # 306 septets would fill two parts, but the escape and '€' cannot sit in different parts.
    straddling = segment_info("a" * 152 + "€" + "a" * 152)
    assert (straddling.length, straddling.segments) == (306, 3)


def test_one_character_outside_gsm7_makes_the_whole_text_ucs2():
    assert segment_info("Ça va").encoding == "GSM-7"  # capital Ç is in the basic set
    assert segment_info("ça va").encoding == "UCS-2"  # small ç is not
    assert segment_info("a" * 100 + "가").segments == 2  # 101 units > 70


def test_an_emoji_counts_two_units_and_is_never_split_across_parts():
    assert segment_info("😀").encoding == "UCS-2"
    assert (segment_info("가" * 68 + "😀").length, segment_info("가" * 68 + "😀").segments) == (70, 1)
    assert segment_info("가" * 69 + "😀").segments == 2
    # 134 units would fill two parts of 67, but the surrogate pair cannot straddle them.
    straddling = segment_info("가" * 66 + "😀" + "가" * 66)
    assert (straddling.length, straddling.segments) == (134, 3)


# --- rendering --------------------------------------------------------------------------------


def test_a_venue_and_an_experience_plaza_render_as_one_lawful_message():
    message = render(offer(*SHORT, venue_km=0.44, plaza_km=12.0), SETTINGS)

    assert message.text.startswith("(광고)[KT] ")
    assert message.text.endswith("\n무료수신거부 080-000-0000")
    for detail in ("송파복지센터 (0.4km)", "서울특별시 송파구 충민로 184 (장지동)", "무료 스마트폰 교육", "10% 할인",
                   "KT 체험형 플라자: KT 플라자 선릉사거리점 (12.0km)", "서울특별시 강남구 선릉로 515"):
        assert detail in message.text
    assert message.dropped == ()
    assert (message.encoding, message.segments) == ("UCS-2", 3)
    assert message.length == segment_info(message.text).length <= 201
    assert "  " not in message.text and "\n\n" not in message.text and "{" not in message.text
    assert check_compliance(message.text, SETTINGS) == []


def test_a_plain_plaza_is_named_as_such():
    message = render(offer("은평문화예술회관", "KT 서초대로직영점"), SETTINGS)
    assert "▶KT 플라자: KT 서초대로직영점 (2.3km)" in message.text.splitlines()


def test_the_shipped_template_shortens_long_addresses_only_by_its_drop_order():
    full = render(offer(*LONG), MessageSettings(opt_out_number=OPT_OUT, max_segments=10))
    short = render(offer(*LONG), SETTINGS)

    assert full.dropped == () and full.segments > 3
    assert short.segments <= 3
    declared = load_template(DEFAULT_TEMPLATE).drop_order
    assert declared == ("distance", "plaza_address", "venue_address")
    assert short.dropped == declared[: len(short.dropped)] and short.dropped
    assert short.text.startswith("(광고)[KT] ") and short.text.endswith("무료수신거부 080-000-0000")
    assert "성현동주민센터(정보화교육장)" in short.text and "KT플라자 강남역점(KT애비뉴)" in short.text
    assert set(short.text.split()) <= set(full.text.split())  # no word cut, none invented


@pytest.mark.parametrize(
    ("places", "max_segments", "dropped", "segments"),
    [
        (LONG, 4, (), 4),
        (("은평구립도서관", "KT 플라자 신촌연세대점"), 3, ("distance",), 3),
        (LONG, 3, ("distance", "plaza_address"), 3),
        (("은평문화예술회관", "KT 서초대로직영점"), 2, ("distance", "plaza_address", "venue_address"), 2),
    ],
)
def test_optional_parts_are_dropped_in_order_until_the_message_fits(
    template_file, places, max_segments, dropped, segments
):
    settings = template_file(max_segments=max_segments)
    full = render(offer(*places), template_file(max_segments=10))
    message = render(offer(*places), settings)

    assert (message.dropped, message.segments) == (dropped, segments)
    assert set(message.text.split()) <= set(full.text.split())
    lines = message.text.splitlines()
    assert lines[0].startswith("(광고)[KT] 고객님") and lines[-1] == "무료수신거부 080-000-0000"
    assert ("(1.2km)" in message.text) == ("distance" not in dropped)
    assert (VENUES[places[0]]["주소명"] in message.text) == ("venue_address" not in dropped)
    assert (STORES[places[1]]["주소"] in message.text) == ("plaza_address" not in dropped)
    assert "" not in lines and all(line == " ".join(line.split()) for line in lines)


def test_the_drop_order_is_read_from_the_template(template_file):
    reordered = TEST_TEMPLATE.replace("@drop-order: distance, plaza_address, venue_address",
                                      "@drop-order: venue_address, distance, plaza_address")
    message = render(offer(*LONG), template_file(reordered))
    assert message.dropped == ("venue_address",)
    assert "(1.2km)" in message.text and STORES[LONG[1]]["주소"] in message.text


def test_a_message_still_too_long_without_every_optional_part_is_refused(template_file):
    with pytest.raises(MessageTooLong, match=r"needs 3 segments .* the limit is 2") as error:
        render(offer(*LONG), template_file(max_segments=2))
    assert (error.value.segments, error.value.max_segments) == (3, 2)
    assert "성현동주민센터(정보화교육장)" in error.value.text


def test_whitespace_bom_and_decomposed_hangul_are_normalised(template_file):
    messy = TEST_TEMPLATE.replace("고객님, 가까운", "고객님,    가까운").replace("▶배움터", "\n\n  ▶배움터")
    decomposed = unicodedata.normalize("NFD", "송파복지센터")
    settings = template_file(messy, encoding="utf-8-sig")
    message = render(Offer(**{**offer(*SHORT).__dict__, "venue_name": decomposed}), settings)

    assert message.text.startswith("(광고)[KT] 고객님, 가까운")
    assert "\n▶배움터: 송파복지센터 (1.2km)\n" in message.text
    assert message.length == len(message.text)  # precomposed: one unit per syllable


# --- compliance -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda t: t.replace("(광고)[{sender}]", "[{sender}]"), "must start with exactly '(광고)'"),
        (lambda t: t.replace("(광고)[{sender}]", "(광고) 고객님,"), "must name the sender 'KT' right after '(광고)'"),
        (lambda t: t.replace("무료수신거부 {opt_out_number}\n", ""),
         "must end with the free opt-out '무료수신거부 080-000-0000'"),
        (lambda t: t + "감사합니다.\n", "must end with the free opt-out"),
        (lambda t: t.replace("{opt_out_number}", "080-123-4567"),
         "opt-out number '080-123-4567' is not the configured '080-000-0000'"),
        (lambda t: t.replace("▶배움터:", "▶배움터({venue_phone}):"), "{venue_phone} was left unfilled"),
    ],
)
def test_a_broken_template_produces_no_message(template_file, edit, problem):
    with pytest.raises(ComplianceError, match="would break the Network Act, art. 50") as error:
        render(offer(*SHORT), template_file(edit(TEST_TEMPLATE)))
    assert any(problem in found for found in error.value.problems), error.value.problems


def test_dropping_a_part_cannot_make_a_message_unlawful(template_file):
    # Lawful in full; the first part dropped to save length is the '(광고)' itself.
    sneaky = TEST_TEMPLATE.replace("(광고)[{sender}]", "[[ad:(광고)]][{sender}]").replace(
        "@drop-order: distance", "@drop-order: ad, distance"
    )
    assert render(offer(*SHORT), template_file(sneaky, max_segments=3)).dropped == ()
    with pytest.raises(ComplianceError, match=r"must start with exactly '\(광고\)'"):
        render(offer(*LONG), template_file(sneaky, max_segments=3))


def test_check_compliance_lists_every_problem_of_a_text():
    assert check_compliance("(광고)[KT] 안내\n무료수신거부 080-000-0000", SETTINGS) == []
    assert check_compliance("(광고) KT 안내 무료수신거부 080-000-0000", SETTINGS) == []
    problems = check_compliance(" (광고)[LG] {name}님 무료수신거부 080-999-9999", SETTINGS)
    assert len(problems) == 3
    assert check_compliance("(광고)[LG] 안내 무료수신거부 080-000-0000", SETTINGS) == [
        "it must name the sender 'KT' right after '(광고)'"
    ]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (TEST_TEMPLATE.replace("무료수신거부 {opt_out_number}", "[[legal: 무료수신거부 {opt_out_number}]]"),
         "{opt_out_number} must be in every message"),
        (TEST_TEMPLATE.replace("[[venue_address:", "[[venue_street:"), "['venue_street'] are not in the @drop-order"),
        (TEST_TEMPLATE.replace("distance, plaza_address", "distance, floor, plaza_address"), "names ['floor']"),
        (TEST_TEMPLATE.replace("[[venue_address: {venue_address}]]", "[[venue_address: {venue_address}"), "line 5"),
        (TEST_TEMPLATE.replace("▶배움터: {venue_name}", "▶배움터:"), "must name the venue"),
    ],
)
def test_a_malformed_template_is_reported_with_where_to_fix_it(template_file, text, error):
    with pytest.raises(TemplateError, match=error.replace("[", r"\[").replace("{", r"\{")):
        render(offer(*SHORT), template_file(text))


def test_a_missing_template_file_is_a_clear_error(tmp_path):
    settings = MessageSettings(opt_out_number=OPT_OUT, template=tmp_path / "gone.txt")
    with pytest.raises(TemplateError, match="gone.txt not found"):
        render(offer(*SHORT), settings)


# --- settings and offers ----------------------------------------------------------------------


@pytest.fixture
def sms_env(monkeypatch):
    for name in ("RETENTION_SMS_SENDER_NAME", "RETENTION_SMS_OPT_OUT_NUMBER", "RETENTION_SMS_MAX_SEGMENTS"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_settings_come_from_the_environment_with_defaults_except_the_opt_out_number(sms_env):
    sms_env.setenv("RETENTION_SMS_OPT_OUT_NUMBER", "080-1234-5678")
    settings = MessageSettings.from_env()
    assert (settings.sender, settings.opt_out_number, settings.max_segments) == ("KT", "080-1234-5678", 3)
    assert settings.template == DEFAULT_TEMPLATE and settings.template.is_file()

    sms_env.setenv("RETENTION_SMS_SENDER_NAME", "케이티")
    sms_env.setenv("RETENTION_SMS_MAX_SEGMENTS", "2")
    assert (MessageSettings.from_env().sender, MessageSettings.from_env().max_segments) == ("케이티", 2)


def test_without_an_opt_out_number_there_are_no_settings(sms_env):
    with pytest.raises(ValueError, match="RETENTION_SMS_OPT_OUT_NUMBER is not set"):
        MessageSettings.from_env()


@pytest.mark.parametrize(
    "number", ["02-123-4567", "1588-1234", "080-12-3456", "080-123-45678", "0801234567", "080 123 4567"]
)
def test_an_opt_out_number_that_is_not_a_free_080_number_is_refused(sms_env, number):
    sms_env.setenv("RETENTION_SMS_OPT_OUT_NUMBER", number)
    with pytest.raises(ValueError, match="RETENTION_SMS_OPT_OUT_NUMBER.*not a free Korean 080 number"):
        MessageSettings.from_env()


@pytest.mark.parametrize("value", ["three", "0", "-1"])
def test_a_segment_limit_must_be_a_positive_whole_number(sms_env, value):
    sms_env.setenv("RETENTION_SMS_OPT_OUT_NUMBER", OPT_OUT)
    sms_env.setenv("RETENTION_SMS_MAX_SEGMENTS", value)
    with pytest.raises(ValueError, match="RETENTION_SMS_MAX_SEGMENTS must be a whole number"):
        MessageSettings.from_env()


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"plaza_type": "kt_agency"}, "plaza_type 'kt_agency'"),
        ({"venue_distance_km": -0.1}, "venue_distance_km must be a distance"),
        ({"plaza_distance_km": float("nan")}, "plaza_distance_km must be a distance"),
        ({"venue_name": " "}, "venue_name is empty"),
    ],
)
def test_an_offer_that_cannot_be_worded_is_refused(change, error):
    with pytest.raises(ValueError, match=error):
        Offer(**{**offer(*SHORT).__dict__, **change})
