// Polls a full rematch's progress once a second and moves the <progress> bar.
// Loaded as a static file (CSP: script-src 'self' + nonce; no inline script or handler).
(function () {
  "use strict";
  var box = document.getElementById("run-progress");
  if (!box) { return; }
  var bar = document.getElementById("run-bar");
  var text = document.getElementById("run-text");
  var url = box.dataset.url;
  var failures = 0;

  function show(run) {
    bar.max = Math.max(run.total_chunks, 1);
    bar.value = run.done_chunks;
    var parts = [run.status, run.done_chunks + " / " + run.total_chunks + " " + box.dataset.labelChunks,
                 run.matches_written + " " + box.dataset.labelMatches];
    if (run.status === "done") { parts.push(box.dataset.labelDone); }
    if (run.status === "failed") { parts.push(box.dataset.labelFailed); }
    text.textContent = parts.join(" · ");
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      })
      .then(function (run) {
        failures = 0;
        show(run);
        if (!run.finished) { window.setTimeout(poll, 1000); }
      })
      .catch(function () {
        failures += 1;
        if (failures < 30) { window.setTimeout(poll, 2000); }
      });
  }
  poll();
})();
