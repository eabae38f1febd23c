// The facilitator map: sites, ports and match lines of the facilitator's harbour regions.
// Match lines are coloured by stage, cross-border ones dashed. Country outlines and a
// graticule are drawn from a bundled GeoJSON under the tiles, so the map stays readable when
// the tiles cannot load. Loaded as a static file (CSP: no inline script or handler).
(function () {
  "use strict";
  var box = document.getElementById("facilitator-map");
  if (!box || typeof L === "undefined") { return; }
  var status = document.getElementById("map-status");
  var stageSelect = document.getElementById("map-stage");

  var map = L.map(box, { preferCanvas: true, worldCopyJump: false }).setView([52.0, 4.5], 6);
  map.createPane("outlines");
  map.getPane("outlines").style.zIndex = 150; // under the tiles (200): shown when tiles fail
  map.createPane("lines");
  map.getPane("lines").style.zIndex = 410;

  // Graticule every 2 degrees: orientation even without outlines.
  var graticule = [];
  for (var lon = -16; lon <= 20; lon += 2) { graticule.push([[40, lon], [64, lon]]); }
  for (var lat = 40; lat <= 64; lat += 2) { graticule.push([[lat, -16], [lat, 20]]); }
  L.polyline(graticule, { pane: "outlines", color: "#b7c4cc", weight: 0.6, interactive: false }).addTo(map);

  fetch(box.dataset.outlines, { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (geojson) {
      if (!geojson) { return; }
      L.geoJSON(geojson, {
        pane: "outlines",
        interactive: false,
        style: { color: "#7d8f99", weight: 1, fillColor: "#eef1ea", fillOpacity: 1 }
      }).addTo(map);
    });

  if (box.dataset.tiles) {
    L.tileLayer(box.dataset.tiles, { maxZoom: 18, attribution: box.dataset.attribution }).addTo(map);
  }

  var layer = L.layerGroup().addTo(map);

  function escapeHtml(text) {
    var div = document.createElement("div");
    div.textContent = text == null ? "" : String(text);
    return div.innerHTML;
  }

  function draw(data) {
    layer.clearLayers();
    var colours = data.stage_colours;
    var bounds = [];
    data.sites.forEach(function (s) {
      L.circleMarker([s.lat, s.lon], { radius: 3, color: "#1d2b36", weight: 1, fillOpacity: 0.6 })
        .bindTooltip(escapeHtml(s.organization) + " · " + escapeHtml(s.name))
        .addTo(layer);
      bounds.push([s.lat, s.lon]);
    });
    // Later stages on top: the few advanced matches must not hide under the many proposed.
    var order = Object.keys(colours);
    data.matches.slice().sort(function (a, b) {
      return order.indexOf(a.stage) - order.indexOf(b.stage) || a.score - b.score;
    }).forEach(function (m) {
      var line = L.polyline([m.from, m.to], {
        pane: "lines",
        color: colours[m.stage] || "#333",
        weight: 1 + 3 * m.score,
        opacity: 0.8,
        dashArray: m.cross_border ? "6 5" : null
      });
      var url = data.match_url.replace("{id}", m.id);
      line.bindPopup(
        "<strong>" + escapeHtml(m.offer) + "</strong> → <strong>" + escapeHtml(m.demand) + "</strong><br>" +
        escapeHtml(box.dataset.labelScore) + " " + m.score.toFixed(2) + " · " +
        escapeHtml(data.stage_labels[m.stage] || m.stage) +
        '<br><a href="' + escapeHtml(url) + '">' + escapeHtml(box.dataset.labelOpen) + "</a>"
      );
      line.addTo(layer);
      bounds.push(m.from, m.to);
    });
    data.ports.forEach(function (p) {
      L.circleMarker([p.lat, p.lon], {
        radius: 6, color: "#0b3954", weight: 2, fillColor: "#ffffff", fillOpacity: 1
      }).bindTooltip(escapeHtml(p.name) + " (" + escapeHtml(p.unlocode) + ", " + escapeHtml(box.dataset.labelPort) + ")")
        .addTo(layer);
      bounds.push([p.lat, p.lon]);
    });
    if (bounds.length) { map.fitBounds(bounds, { padding: [20, 20], maxZoom: 10 }); }
    if (status) {
      status.textContent = [
        data.sites.length + " " + box.dataset.labelSites,
        data.ports.length + " " + box.dataset.labelPorts,
        data.matches.length + " " + box.dataset.labelMatches
      ].join(" · ");
    }
  }

  function load() {
    var url = box.dataset.url;
    if (stageSelect && stageSelect.value) { url += "?stage=" + encodeURIComponent(stageSelect.value); }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(draw)
      .catch(function (error) { if (status) { status.textContent = String(error); } });
  }

  if (stageSelect) { stageSelect.addEventListener("change", load); }
  load();
})();
