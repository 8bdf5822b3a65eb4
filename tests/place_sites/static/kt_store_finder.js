/* The fixture store finder: fills the list from /store/api/stores.json, ten stores a page.
 * window.SITE_CONFIG holds the test knobs: renderDelayMs (how long results take to appear
 * after the data arrives), brokenFromPage (from that page on, items get another class, as
 * after a redesign) and showTotal (false: the page has no "총 N개 매장"). A store field that is
 * null is left out of its item. */
(function () {
  "use strict";

  var DISTRICTS = {
    "서울특별시": ["강남구", "강동구", "강북구", "강서구", "관악구", "광진구", "구로구", "금천구", "노원구",
      "도봉구", "동대문구", "동작구", "마포구", "서대문구", "서초구", "성동구", "성북구", "송파구", "양천구",
      "영등포구", "용산구", "은평구", "종로구", "중구", "중랑구"]
  };
  var PAGE_SIZE = 10;
  var BLOCK = 10;
  var config = window.SITE_CONFIG;
  var sido = document.getElementById("sido");
  var gugun = document.getElementById("gugun");
  var list = document.getElementById("storeList");
  var paging = document.getElementById("paging");
  var count = document.getElementById("resultCount");
  if (!config.showTotal) {
    count.remove();
    count = null;
  }

  function el(tag, className, text) {
    var element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined) element.textContent = text;
    return element;
  }

  sido.addEventListener("change", function () {
    gugun.replaceChildren(el("option", "", "전체"));
    gugun.firstChild.value = "";
    (DISTRICTS[sido.value] || []).forEach(function (name) {
      var option = el("option", "", name);
      option.value = name;
      gugun.append(option);
    });
  });

  document.getElementById("btnSearch").addEventListener("click", function () { search(1); });

  paging.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-page]");
    if (!link) return;
    event.preventDefault();
    search(Number(link.dataset.page));
  });

  function search(page) {
    if (!sido.value) {
      list.replaceChildren(el("li", "no-result", "시/도를 선택해 주세요."));
      return;
    }
    var params = new URLSearchParams({ sido: sido.value, gugun: gugun.value, page: page, size: PAGE_SIZE });
    fetch("/store/api/stores.json?" + params, { headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) { later(function () { render(data); }); },
            function (error) { later(function () { showError(error); }); });
  }

  function later(action) { setTimeout(action, config.renderDelayMs); }

  function render(data) {
    var broken = config.brokenFromPage && data.page >= config.brokenFromPage;
    list.replaceChildren();
    if (!data.stores.length) list.append(el("li", "no-result", "검색 결과가 없습니다."));
    data.stores.forEach(function (store) {
      var item = el("li", broken ? "shop-card" : "store-item");
      item.append(el("span", "store-type", store.type));
      if (store.name !== null) item.append(el("strong", "store-name", store.name));
      if (store.address !== null) item.append(el("p", "store-addr", store.address));
      if (store.tel) item.append(el("p", "store-tel", store.tel));
      list.append(item);
    });
    if (count) count.textContent = "총 " + data.totalCount + "개 매장";
    renderPaging(data.page, data.totalPages);
  }

  // The pagination stays as it was, so the visitor can click the same page again.
  function showError(error) {
    list.replaceChildren(el("li", "error", "매장 정보를 불러오지 못했습니다. 잠시 후 다시 시도해 주세요. (" +
                                           error.message + ")"));
  }

  function pageLink(page, label, className) {
    var link = el("a", className, label);
    link.href = "#";
    link.dataset.page = page;
    return link;
  }

  function renderPaging(current, totalPages) {
    paging.replaceChildren();
    if (!totalPages) return;
    var first = Math.floor((current - 1) / BLOCK) * BLOCK + 1;
    var last = Math.min(first + BLOCK - 1, totalPages);
    if (first > 1) paging.append(pageLink(first - 1, "이전", "prev"));
    for (var page = first; page <= last; page++) {
      paging.append(page === current ? el("strong", "on", String(page)) : pageLink(page, String(page), ""));
    }
    if (last < totalPages) paging.append(pageLink(last + 1, "다음", "next"));
  }
})();
