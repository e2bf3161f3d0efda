// The account pages' small behaviours (loaded as a file: the CSP allows no inline script).
(function () {
  "use strict";

  // 422 answers (a form with its errors) are swapped in by the htmx-config rule in base.html.

  // After a form swap, put the keyboard where the user needs it: the first invalid field, or the first
  // field of the fresh form after a successful save (its status message announces the save). htmx:load
  // fires on the newly swapped-in form (the old one, which sent the request, is already detached).
  document.addEventListener("htmx:load", function (event) {
    var form = event.detail.elt;
    if (!form || !form.matches || !form.matches("form.record-form")) {
      return;
    }
    var invalid = form.querySelector('[aria-invalid="true"]');
    var first = invalid || form.querySelector("select, input:not([type=hidden]), textarea");
    if (first) {
      first.focus();
    }
  });
})();
