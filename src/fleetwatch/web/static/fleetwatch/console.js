// The device page's command console (web/channels.py): a form is sent once (its button is
// disabled on submit; the server's one-time token stops what gets through anyway), and the
// command history is refreshed every few seconds while a command is queued or delivered.
(function () {
  "use strict";
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    });
  });
  var box = document.getElementById("commands");
  if (!box) return;
  var every = 2000;
  function refresh() {
    if (!box.querySelector("tr[data-pending]")) return;
    fetch(box.dataset.url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        box.innerHTML = html;
        box.dataset.refreshed = String(Number(box.dataset.refreshed || 0) + 1);
      })
      .catch(function () { /* keep the last history; try again */ })
      .then(function () { setTimeout(refresh, every); });
  }
  setTimeout(refresh, every);
})();
