"""Reading the owner's place files: headers by name in any order, encodings, every line kept."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

from retention.places.files import column_of, korean_encoding, land_places, monthly_file, place_file, raw_rows
from retention.places.model import DIGITAL_LEARNING_CENTERS, KT_STORE_FINDER
from retention.sources.csv_files import SourceFileError, decode, read_csv_text

DECEMBER = dt.date(2026, 12, 1)


def _read(source: str, text: str):
    return read_csv_text(text, "kt_stores_2026-12.csv", hashlib.sha256(text.encode()).hexdigest(),
                         column_name=lambda header: column_of(source, header))


def test_headers_of_the_2023_crawl_of_the_owners_exports_and_in_english_are_matched_by_name():
    for header in ("장소타입", "매장 유형", " type_label ", "Store Type"):
        assert column_of(KT_STORE_FINDER, header) == "type_label"
    assert column_of(KT_STORE_FINDER, "장소") == "name"
    assert column_of(KT_STORE_FINDER, "매장주소") == "address"
    assert column_of(DIGITAL_LEARNING_CENTERS, "교육장명") == "name"
    assert column_of(DIGITAL_LEARNING_CENTERS, "교육장 주소") == "address"
    assert column_of(DIGITAL_LEARNING_CENTERS, "상세페이지 URL") == "detail_url"
    assert column_of(KT_STORE_FINDER, " 비고 ") == "비고"  # not read: an extra column, by its header


def test_shuffled_columns_land_by_name_with_line_numbers_and_extras_kept_as_received():
    text = ("주소,비고,장소,장소타입\n"
            "서울특별시 강남구 선릉로 515 ,1층, KT 플라자 선릉점,[플라자]\n"
            "\n"
            '"서울특별시 중랑구 봉우재로 59 (면목동)",,KT 면목점,[대리점]\n'
            "서울특별시 노원구 동일로 1,cut\n")
    csv_file = _read(KT_STORE_FINDER, text)
    rows = raw_rows(KT_STORE_FINDER, DECEMBER, "crawl", csv_file, dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    assert [row["source_row"] for row in rows] == [2, 4, 5]  # file lines; the blank line 3 is no place
    assert [row["position"] for row in rows] == [1, 2, 3]
    first = rows[0]
    # As received: not even the spaces around a value are touched (normalising comes later).
    assert (first["name"], first["address"], first["type_label"]) == (
        " KT 플라자 선릉점", "서울특별시 강남구 선릉로 515 ", "[플라자]")
    assert json.loads(first["extra_columns"]) == {"비고": "1층"}
    assert json.loads(first["file_header"]) == ["주소", "비고", "장소", "장소타입"]
    assert first["file_error"] is None and first["origin"] == "owner_file"
    assert rows[2]["file_error"] == "line 5 has 2 fields, the header has 4 (cut or shifted line)"
    assert rows[2]["name"] is None


def test_a_file_tells_which_required_columns_it_lacks_and_which_it_has_beyond_them():
    described = place_file(KT_STORE_FINDER, "f.csv", "cp949", ["장소", "전화번호", "지점코드"])
    assert described.missing_columns == ["type_label", "address"]
    assert described.extra_columns == ["지점코드"]
    venues = place_file(DIGITAL_LEARNING_CENTERS, "f.csv", "utf-8", ["교육장명", "주소명"])
    assert venues.missing_columns == [] and venues.extra_columns == []


def test_two_headers_meaning_the_same_column_are_refused_with_both_named():
    with pytest.raises(SourceFileError, match=r"header columns \['주소', 'address'\] all mean \['address'\]"):
        _read(KT_STORE_FINDER, "장소타입,장소,주소,address\n[대리점],A,서울특별시 강남구,x\n")


def test_korean_excel_encodings_are_decoded_and_named_and_hangul_survives():
    text = "장소,주소\nKT 플라자 똠양점,서울특별시 강남구 선릉로 515\n"  # 똠 is CP949, not EUC-KR
    assert decode(text.encode("cp949"), "f.csv") == (text, "cp949")
    assert decode(text.replace("똠", "동").encode("euc-kr"), "f.csv") == (text.replace("똠", "동"), "cp949")
    assert decode(text.encode("utf-8-sig"), "f.csv") == (text, "utf-8-sig")
    assert decode(text.encode("utf-8"), "f.csv") == (text, "utf-8")
    with pytest.raises(SourceFileError, match=r"f\.csv is neither UTF-8 nor CP949/EUC-KR.*line 2\): re-export"):
        decode(b"name,address\n\xff\xfe\xfa,x\n", "f.csv")
    # The warning names what the file is: EUC-KR unless it uses characters only CP949 has.
    euc_kr = text.replace("똠", "동")
    assert korean_encoding(read_csv_text(text, "f", "0", "cp949", column_name=str)) == "cp949"
    assert korean_encoding(read_csv_text(euc_kr, "f", "0", "cp949", column_name=str)) == "euc-kr"
    assert korean_encoding(read_csv_text(euc_kr, "f", "0", "utf-8-sig", column_name=str)) == "utf-8-sig"


def test_monthly_files_are_named_by_month_in_a_folder_or_a_bucket(tmp_path):
    assert monthly_file(str(tmp_path), KT_STORE_FINDER, DECEMBER) == str(tmp_path / "kt_stores_2026-12.csv")
    assert monthly_file("gs://bucket/places/", DIGITAL_LEARNING_CENTERS, DECEMBER) == \
        "gs://bucket/places/learning_centers_2026-12.csv"


def test_without_a_file_source_the_site_is_scraped(monkeypatch):
    """No file setting: land_places hands over to the scraper (which, with no URL either, has
    nothing to do and says so)."""
    from retention.places.refresh import NoCrawl

    monkeypatch.delenv("RETENTION_KT_STORES_SOURCE", raising=False)
    monkeypatch.delenv("RETENTION_KT_STORE_FINDER_URL", raising=False)
    with pytest.raises(NoCrawl, match="no live site configured"):
        land_places(None, KT_STORE_FINDER, dt.date.today().replace(day=1))


def test_the_operators_page_lists_every_header_the_platform_accepts():
    from retention.config import PROJECT_ROOT
    from retention.places.files import COLUMNS

    page = (PROJECT_ROOT / "docs" / "places_files.md").read_text(encoding="utf-8")
    missing = [alias for columns in COLUMNS.values() for aliases in columns.values() for alias in aliases
               if f"`{alias}`" not in page]
    assert missing == []
