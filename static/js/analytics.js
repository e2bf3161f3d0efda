// KPI dashboard: after htmx swaps in another KPI's trend, mark that KPI's card as the selected one.
document.addEventListener("htmx:afterSwap", function (event) {
  if (!event.detail.target || event.detail.target.id !== "kpi-trend") {
    return;
  }
  var trend = document.getElementById("kpi-trend");
  var key = trend ? trend.getAttribute("data-kpi") : null;
  document.querySelectorAll(".kpi-card").forEach(function (card) {
    var link = card.querySelector(".kpi-link");
    var selected = link && link.getAttribute("data-kpi") === key;
    card.classList.toggle("selected", selected);
    if (link) {
      if (selected) {
        link.setAttribute("aria-current", "true");
      } else {
        link.removeAttribute("aria-current");
      }
    }
  });
});
