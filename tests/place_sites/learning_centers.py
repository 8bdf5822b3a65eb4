"""The fixture copy of the 디지털 배움터 venue list ("교육장 찾기"), eGovFramework style.

- `GET|POST /edc/crse/plclist.do` (`pageIndex`, `sch_sido`): the list page, one document per
  result page, with the search form `listForm`; its script asks for the results.
- `POST /edc/crse/plclistAjax.do`: ten venues a page, as JSON.
- `GET /edc/crse/plcdtl.do?&sch_edc_place_id=...`: a venue's detail page.
The venues are the bundled 2023 crawl (all in Seoul); any other region has none. `failing_page`
makes the list page itself (the document) answer 500, as a failing application server would.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qs, urlsplit

from retention.places.model import DIGITAL_LEARNING_CENTERS

from place_sites.server import Response, Site, SiteOptions, html, json_response, not_found, static, template

PAGE_SIZE = 10
SEOUL_CODE = "11"
# 시/도 codes as administrative district codes; "" is 전체.
REGIONS = (
    ("", "전체"), ("11", "서울특별시"), ("26", "부산광역시"), ("27", "대구광역시"), ("28", "인천광역시"),
    ("29", "광주광역시"), ("30", "대전광역시"), ("31", "울산광역시"), ("36", "세종특별자치시"), ("41", "경기도"),
    ("51", "강원특별자치도"), ("43", "충청북도"), ("44", "충청남도"), ("52", "전북특별자치도"), ("46", "전라남도"),
    ("47", "경상북도"), ("48", "경상남도"), ("50", "제주특별자치도"),
)
SERVER_ERROR_PAGE = """<!DOCTYPE html>
<html lang="en"><head><title>HTTP Status 500 – Internal Server Error</title></head>
<body><h1>HTTP Status 500 – Internal Server Error</h1><hr><p><b>Type</b> Exception Report</p></body></html>
"""


class LearningCentersSite(Site):
    name = DIGITAL_LEARNING_CENTERS

    def __init__(self, venues: list[dict[str, str]], options: SiteOptions) -> None:
        super().__init__(options)
        self.venues = [
            {"id": parse_qs(urlsplit(venue["상세페이지"]).query)["sch_edc_place_id"][0], **venue} for venue in venues
        ]
        """Rows of the bundled CSV (장소명, 주소명, 상세페이지), with the venue id of the detail link."""

    def respond(self, method: str, path: str, query: dict[str, str]) -> Response:
        if path == "/edc/crse/plclist.do":
            return self._list_page(query)
        if path == "/edc/crse/plclistAjax.do":
            return self._list_data(query)
        if path == "/js/edc/plclist.js":
            return static("learning_centers.js")
        if path == "/edc/crse/plcdtl.do":
            return self._detail(query.get("sch_edc_place_id", ""))
        return not_found(escape(path))

    def _list_page(self, query: dict[str, str]) -> Response:
        page = _page_index(query)
        if self.should_fail(page):
            return html(SERVER_ERROR_PAGE, status=500, page=page)
        region = query.get("sch_sido", "")
        options = "".join(
            f'<option value="{code}"{" selected" if code == region else ""}>{name}</option>' for code, name in REGIONS
        )
        return html(template("learning_centers.html", page_index=str(page), regions=options,
                             config=self.page_config()), page=page)

    def _list_data(self, query: dict[str, str]) -> Response:
        page = _page_index(query)
        found = list(enumerate(self.venues)) if query.get("sch_sido", "") in ("", SEOUL_CODE) else []
        shown = [] if self.should_answer_empty(page) else found[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
        blank = self.options.blank
        return json_response({
            "totalCnt": self.total(len(found)),
            "pageIndex": page,
            "pageUnit": PAGE_SIZE,
            "totalPageCnt": -(-len(found) // PAGE_SIZE),
            "resultList": [
                {"eduPlaceId": venue["id"],
                 "eduPlaceNm": blank(row, venue["장소명"]) if self.options.blank_field == "name" else venue["장소명"],
                 "roadAddr": blank(row, venue["주소명"]) if self.options.blank_field == "address" else venue["주소명"]}
                for row, venue in shown
            ],
        }, page=page)

    def _detail(self, place_id: str) -> Response:
        venue = next((venue for venue in self.venues if venue["id"] == place_id), None)
        if venue is None:
            return not_found(escape(place_id))
        return html(template("learning_centers_detail.html", name=escape(venue["장소명"]),
                             address=escape(venue["주소명"])), kind="detail")


def _page_index(query: dict[str, str]) -> int:
    value = query.get("pageIndex", "")
    return int(value) if value.isdigit() and int(value) > 0 else 1
