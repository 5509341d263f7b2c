// "Exit this page": the link works without JavaScript; this adds the keyboard shortcut
// (Escape three times within two seconds) and replaces this page in the history.
(function () {
  "use strict";
  var link = document.getElementById("exit-this-page");
  if (!link) { return; }
  function leave(event) {
    if (event) { event.preventDefault(); }
    document.body.style.display = "none";
    window.location.replace(link.href);
  }
  link.addEventListener("click", leave);
  var presses = [];
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var now = Date.now();
    presses = presses.filter(function (t) { return now - t < 2000; });
    presses.push(now);
    if (presses.length >= 3) { leave(); }
  });
})();
