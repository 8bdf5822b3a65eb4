/* The fixture venue list, eGovFramework style: the page links call fn_egov_link_page(n), which
 * submits listForm with pageIndex = n (a new document); once loaded, the page asks
 * /edc/crse/plclistAjax.do for its venues and renders them with the pagination.
 * window.SITE_CONFIG holds the test knobs: renderDelayMs (how long results take to appear
 * after the data arrives), brokenFromPage (from that page on, items get another class),
 * showTotal (false: the page has no "총 N건") and pagerQuote (how the page links quote the page
 * number: fn_egov_link_page(4), ('4') or ("4")). A venue field that is null is left out. */

function fn_egov_link_page(pageNo) {
  document.listForm.pageIndex.value = pageNo;
  document.listForm.action = "/edc/crse/plclist.do";
  document.listForm.submit();
}

function fn_egov_search() {
  fn_egov_link_page(1);
}

(function () {
  "use strict";

  var BLOCK = 10;
  var config = window.SITE_CONFIG;
  var list = document.getElementById("placeList");
  var paging = document.getElementById("paging");
  var total = document.getElementById("totalCnt");
  if (!config.showTotal) {
    total.parentNode.remove();
    total = null;
  }

  function el(tag, className, text) {
    var element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined) element.textContent = text;
    return element;
  }

  function later(action) { setTimeout(action, config.renderDelayMs); }

  fetch("/edc/crse/plclistAjax.do", { method: "POST", body: new URLSearchParams(new FormData(document.listForm)) })
    .then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    })
    .then(function (data) { later(function () { render(data); }); },
          function (error) { later(function () { showError(error); }); });

  function render(data) {
    var broken = config.brokenFromPage && data.pageIndex >= config.brokenFromPage;
    list.replaceChildren();
    if (!data.resultList.length) list.append(el("li", "no-data", "조회된 교육장이 없습니다."));
    data.resultList.forEach(function (place) {
      var item = el("li", broken ? "edu-place" : "place-item");
      if (place.eduPlaceNm !== null) {
        var link = el("a", "place-name", place.eduPlaceNm);
        link.href = "/edc/crse/plcdtl.do?&sch_edc_place_id=" + encodeURIComponent(place.eduPlaceId);
        item.append(link);
      }
      if (place.roadAddr !== null) item.append(el("p", "place-addr", place.roadAddr));
      list.append(item);
    });
    if (total) total.textContent = data.totalCnt;
    renderPaging(data.pageIndex, data.totalPageCnt);
  }

  function showError(error) {
    list.replaceChildren(el("li", "error", "교육장 목록을 불러오지 못했습니다. (" + error.message + ")"));
  }

  function pageLink(pageNo, label, className) {
    var link = el("a", className, label);
    link.href = "#";
    var quote = config.pagerQuote;
    link.setAttribute("onclick", "fn_egov_link_page(" + quote + pageNo + quote + "); return false;");
    return link;
  }

  function renderPaging(current, totalPages) {
    paging.replaceChildren();
    if (!totalPages) return;
    var first = Math.floor((current - 1) / BLOCK) * BLOCK + 1;
    var last = Math.min(first + BLOCK - 1, totalPages);
    if (first > 1) paging.append(pageLink(1, "처음", "first"), pageLink(first - 1, "이전", "prev"));
    for (var page = first; page <= last; page++) {
      paging.append(page === current ? el("strong", "", String(page)) : pageLink(page, String(page), ""));
    }
    if (last < totalPages) paging.append(pageLink(last + 1, "다음", "next"), pageLink(totalPages, "마지막", "last"));
  }
})();
