/* Search-as-you-type for text inputs that carry data-lookup-url (the List of Waste and NACE
   pickers). It fills a <datalist> from the JSON endpoint ({"results": [{"value", "label"}]}).
   Without JavaScript the input stays a plain text field that the server validates.
   Loaded with <script src defer>: the CSP forbids inline scripts. */
(function () {
  "use strict";

  function attach(input) {
    var list = document.createElement("datalist");
    list.id = input.id + "-options";
    input.setAttribute("list", list.id);
    input.insertAdjacentElement("afterend", list);
    var status = document.createElement("span");
    status.className = "visually-hidden";
    status.setAttribute("aria-live", "polite");
    list.insertAdjacentElement("afterend", status);
    var timer = null;
    var last = "";
    var controller = null;

    function show(results) {
      list.replaceChildren();
      results.forEach(function (item) {
        var option = document.createElement("option");
        option.value = item.value;
        option.label = item.label;
        option.textContent = item.label;
        list.appendChild(option);
      });
      status.textContent = results.length + " " + (input.dataset.lookupFound || "");
    }

    function search() {
      var q = input.value.trim();
      if (q.length < 2 || q === last) {
        return;
      }
      last = q;
      if (controller) {
        controller.abort();
      }
      controller = new AbortController();
      var url = input.dataset.lookupUrl + "?q=" + encodeURIComponent(q);
      fetch(url, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        signal: controller.signal
      })
        .then(function (response) {
          return response.ok ? response.json() : { results: [] };
        })
        .then(function (data) {
          show(data.results || []);
        })
        .catch(function () {
          /* aborted or offline: the plain input still works */
        });
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(search, 200);
    });
  }

  document.querySelectorAll("input[data-lookup-url]").forEach(attach);
})();
