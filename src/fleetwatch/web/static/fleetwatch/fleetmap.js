// The fleet page's map: the devices with a location, as the map endpoint lists them
// (/api/v1/inventory/device-map/, organization-scoped; #fleet-map data-api), clustered with
// Leaflet.markercluster. Tiles from #fleet-map data-tiles (FLEETWATCH_MAP_TILES); none: the
// markers on a blank map (offline deployments). window.fleetwatchMap holds the map, its
// cluster group and the number of devices placed (browser tests).
(function () {
  "use strict";
  const box = document.getElementById("fleet-map");
  if (!box || !window.L) return;
  const status = document.getElementById("fleet-map-status");
  const COLORS = { critical: "#c62828", problem: "#e0a800", unknown: "#5b6b7b", ok: "#2e7d32", deactivated: "#9aa5b1" };
  // maxZoom on the map itself: the clusters need one, and without tiles no layer gives it.
  const map = L.map(box, { worldCopyJump: true, maxZoom: 18 }).setView([20, 0], 2);
  if (box.dataset.tiles) {
    L.tileLayer(box.dataset.tiles, { maxZoom: 19, attribution: box.dataset.attribution || "" }).addTo(map);
  } else {
    box.classList.add("blank");
  }
  const cluster = L.markerClusterGroup({ showCoverageOnHover: false, chunkedLoading: true });
  map.addLayer(cluster);
  window.fleetwatchMap = { map: map, cluster: cluster, placed: 0, loaded: false };

  function marker(device) {
    const m = L.circleMarker([device.latitude, device.longitude], {
      radius: 7, weight: 2, color: "#fff", fillColor: COLORS[device.health_status] || COLORS.unknown, fillOpacity: 0.95,
    });
    const popup = document.createElement("div");
    const link = document.createElement("a");
    link.href = box.dataset.device.replace("00000000-0000-0000-0000-000000000000", device.id);
    link.textContent = device.name;
    const facts = document.createElement("div");
    facts.textContent = `${device.health_status} · ${device.location}`;
    popup.append(link, facts);
    m.bindPopup(popup);
    return m;
  }

  async function load() {
    // Page after page (1,000 devices each) until the endpoint says there is no next one.
    let url = box.dataset.api;
    const bounds = [];
    try {
      while (url) {
        const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const page = await response.json();
        const markers = page.results.map(marker);
        cluster.addLayers(markers);
        page.results.forEach((d) => bounds.push([d.latitude, d.longitude]));
        window.fleetwatchMap.placed += markers.length;
        url = page.next;
      }
    } catch (error) {
      status.textContent = `Could not load the map (${error.message}).`;
      return;
    }
    if (bounds.length) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 15, animate: false });
    const placed = window.fleetwatchMap.placed;
    status.textContent = placed ? `${placed} devices with a location.` : "No device has a location yet.";
    window.fleetwatchMap.loaded = true;
    box.dataset.loaded = "true";
  }
  load();
})();
