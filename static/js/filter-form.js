// A filter form marked data-url-state shows the state of the URL. Its selects and hidden fields come back from the
// server with every result (out of band); the search box is not, so the user's typing is never overwritten. It is
// set here from the URL instead: after Back/Forward (a history snapshot holds the box as first rendered) and after
// a URL pushed by something else (a sort, "Clear the filters") — never while it has the focus.
(function () {
  "use strict";

  function syncSearchBoxes() {
    var params = new URLSearchParams(window.location.search);
    document.querySelectorAll("form[data-url-state] input[type=search]").forEach(function (input) {
      if (input !== document.activeElement) input.value = params.get(input.name) || "";
    });
  }

  document.addEventListener("htmx:historyRestore", syncSearchBoxes);
  document.addEventListener("htmx:pushedIntoHistory", syncSearchBoxes);
})();
