// The upload page's small behaviour (loaded as a file: the CSP allows no inline script): choosing what the
// file holds opens the list of that kind's fields and closes the others.
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.matches || !select.matches("select[name=kind]")) {
      return;
    }
    document.querySelectorAll("details.kind-fields").forEach(function (details) {
      details.open = details.getAttribute("data-kind") === select.value;
    });
  });
})();
