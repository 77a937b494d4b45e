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
  // Every 2 s, slowing down to every 30 s while nothing changes (a device offline for days).
  var FIRST = 2000, LAST = 30000, every = FIRST, last = null;
  function refresh() {
    if (!box.querySelector("tr[data-pending]")) return;
    fetch(box.dataset.url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      // a redirect is the login page (the session ended): keep the history as it is
      .then(function (r) { return r.ok && !r.redirected ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        if (html === last) {
          every = Math.min(every * 1.5, LAST);
        } else {
          box.innerHTML = last = html;
          every = FIRST;
        }
        box.dataset.refreshed = String(Number(box.dataset.refreshed || 0) + 1);
      })
      .catch(function () { every = Math.min(every * 1.5, LAST); })
      .then(function () { setTimeout(refresh, every); });
  }
  setTimeout(refresh, every);
})();
