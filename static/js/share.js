// Sharing, as an extra: the share panel's links and copy field work without JavaScript.
// This only reveals a "Copy link" button (Clipboard API) and a "Share…" button that opens
// the device's own share sheet (Web Share API), where the browser has them. Nothing is
// sent anywhere by this file.
(function () {
  "use strict";
  var copyButtons = document.querySelectorAll(".share-copy-button");
  Array.prototype.forEach.call(copyButtons, function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field || !navigator.clipboard) { return; }
    button.hidden = false;
    var label = button.textContent;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value).then(function () {
        button.textContent = button.getAttribute("data-copied");
        window.setTimeout(function () { button.textContent = label; }, 2000);
      }, function () {
        field.focus();
        field.select();
      });
    });
  });
  if (!navigator.share) { return; }
  var shareButtons = document.querySelectorAll(".share-native");
  Array.prototype.forEach.call(shareButtons, function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.share({ title: button.getAttribute("data-title"), url: button.getAttribute("data-url") })
        .catch(function () { /* the reader closed the share sheet */ });
    });
  });
})();
