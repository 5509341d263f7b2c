// Small extras over pages that work without JavaScript.
(function () {
  "use strict";
  // After a refused form, move focus to the list of problems (the GOV.UK error summary
  // pattern): screen readers read it and Tab continues to its links. Without JavaScript
  // the form's action (…#error-summary) brings the summary into view instead.
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }
})();
