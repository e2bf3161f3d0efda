// Live SLA countdowns: every <time data-sla-countdown datetime="..."> shows "2 h 13 min left" or
// "breached 25 min ago", updated every second; its table row gets the class "breached" once the deadline
// passes. The server renders the same text and class (crm/selectors_cases.py), so nothing depends on this.
(function () {
  "use strict";

  function format(seconds) {
    var span = Math.abs(seconds);
    var days = Math.floor(span / 86400);
    var rest = span % 86400;
    var hours = Math.floor(rest / 3600);
    rest = rest % 3600;
    var minutes = Math.floor(rest / 60);
    var secs = rest % 60;
    var text;
    if (days) {
      text = days + " d " + hours + " h";
    } else if (hours) {
      text = hours + " h " + minutes + " min";
    } else if (minutes) {
      text = minutes + " min " + secs + " s";
    } else {
      text = secs + " s";
    }
    return seconds >= 0 ? text + " left" : "breached " + text + " ago";
  }

  function tick() {
    var now = Date.now();
    var clocks = document.querySelectorAll("time[data-sla-countdown]");
    for (var i = 0; i < clocks.length; i++) {
      var clock = clocks[i];
      var due = Date.parse(clock.getAttribute("datetime"));
      if (isNaN(due)) continue;
      var seconds = Math.floor((due - now) / 1000);
      var text = format(seconds);
      if (clock.textContent !== text) clock.textContent = text;
      var row = clock.closest("tr");
      if (row) row.classList.toggle("breached", seconds < 0);
    }
  }

  window.tierwiseSlaCountdown = format;  // exposed for tests
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", tick);
  } else {
    tick();
  }
  window.setInterval(tick, 1000);
})();
