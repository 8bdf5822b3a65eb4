"""The fixture copy of KT's store finder: a search form, a JSON endpoint, a list JavaScript renders.

- `GET /store/storeFinder.do`: the page (시/도 and 구/군 selects, 검색 button, empty list).
- `GET /store/api/stores.json?sido=&gugun=&page=`: ten stores a page, as the page's script asks.
The stores are the bundled 2023 crawl, which is the site's answer for 서울특별시 (four of them
outside Seoul, as crawled); any other region has none.
"""

from __future__ import annotations

import html as html_escape

from retention.places.model import KT_STORE_FINDER

from place_sites.server import Response, Site, SiteOptions, html, json_response, not_found, static, template

PAGE_SIZE = 10
SEOUL = "서울특별시"
REGIONS = (
    "서울특별시", "부산광역시", "대구광역시", "인천광역시", "광주광역시", "대전광역시", "울산광역시", "세종특별자치시",
    "경기도", "강원특별자치도", "충청북도", "충청남도", "전북특별자치도", "전라남도", "경상북도", "경상남도",
    "제주특별자치도",
)


class KtStoreFinderSite(Site):
    name = KT_STORE_FINDER

    def __init__(self, stores: list[dict[str, str]], options: SiteOptions) -> None:
        super().__init__(options)
        self.stores = stores
        """Rows of the bundled CSV: 장소타입, 장소, 주소, 전화번호 (empty when the store has none)."""

    def respond(self, method: str, path: str, query: dict[str, str]) -> Response:
        if path == "/store/storeFinder.do":
            options = "".join(f'<option value="{region}">{region}</option>' for region in REGIONS)
            return html(template("kt_store_finder.html", regions=options, config=self.page_config()))
        if path == "/store/js/storeFinder.js":
            return static("kt_store_finder.js")
        if path == "/store/api/stores.json":
            return self._stores(query)
        return not_found(html_escape.escape(path))

    def _stores(self, query: dict[str, str]) -> Response:
        page = int(query.get("page") or 1)
        if self.should_fail(page):
            return json_response({"resultCode": "E500", "resultMsg": "일시적인 오류가 발생했습니다."}, status=500,
                                 page=page)
        found = list(enumerate(self.stores)) if query.get("sido") == SEOUL else []
        if query.get("gugun"):
            found = [(row, store) for row, store in found if store["주소"].split()[1:2] == [query["gugun"]]]
        shown = [] if self.should_answer_empty(page) else found[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
        blank = self.options.blank
        return json_response({
            "totalCount": self.total(len(found)),
            "page": page,
            "pageSize": PAGE_SIZE,
            "totalPages": -(-len(found) // PAGE_SIZE),
            "stores": [
                {"type": store["장소타입"],
                 "name": blank(row, store["장소"]) if self.options.blank_field == "name" else store["장소"],
                 "address": blank(row, store["주소"]) if self.options.blank_field == "address" else store["주소"],
                 "tel": store["전화번호"] or None}
                for row, store in shown
            ],
        }, page=page)
