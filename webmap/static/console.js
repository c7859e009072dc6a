// The set-up console's maps (issue #14): draw a service area, pick a point for the routing preview,
// show where a warning is. Nothing here is the only way: the area is also a GeoJSON text field and
// the point two coordinate fields, so the forms work with the keyboard alone and without JavaScript.
(function () {
  "use strict";
  const dataEl = document.getElementById("console-map-data");
  const mapEl = document.querySelector(".folium-map");
  if (!dataEl || !mapEl || !window.L) return;
  const data = JSON.parse(dataEl.textContent);
  const map = window[mapEl.id];
  if (!map) return;
  const $ = (id) => document.getElementById(id);

  if (data.boundary) {
    L.geoJSON(data.boundary, {pmIgnore: true, snapIgnore: true, interactive: false,
                              style: {color: "#1864ab", weight: 2, dashArray: "6 4", fillOpacity: 0}}).addTo(map);
  }

  if (data.mode === "show") {
    for (const shape of data.shapes || []) {
      L.geoJSON(shape.geometry, {style: {color: "#c92a2a", weight: 3, fillOpacity: 0.25}})
        .bindTooltip(shape.label).addTo(map);
    }
  }

  if (data.mode === "point") {
    const lat = $("lat"), lon = $("lon"), status = $("point-status"), centre = $("use-centre");
    let marker = null;
    const place = (la, lo, announce) => {
      if (!isFinite(la) || !isFinite(lo)) return;
      if (marker) marker.setLatLng([la, lo]);
      else marker = L.circleMarker([la, lo], {radius: 9, color: "#c92a2a", weight: 3, fill: true}).addTo(map);
      if (announce && status) status.textContent = `${status.dataset.chosen} ${la}, ${lo}`;
    };
    const set = (latlng) => {
      lat.value = latlng.lat.toFixed(6);
      lon.value = latlng.lng.toFixed(6);
      place(Number(lat.value), Number(lon.value), true);
    };
    if (data.point) place(data.point[0], data.point[1], false);
    map.on("click", (e) => set(e.latlng));
    if (centre) {
      centre.hidden = false;
      centre.addEventListener("click", () => set(map.getCenter()));
    }
    for (const input of [lat, lon]) {
      input.addEventListener("change", () => place(Number(lat.value), Number(lon.value), false));
    }
  }

  if (data.mode === "draw" && map.pm && window.drawArea) {
    const {load} = window.drawArea(map, $("area"), {choice: $("scope-area"),
                                                    pmOptions: {allowSelfIntersection: false}});
    if (data.drawn) {
      try { load(data.drawn); } catch (e) { /* the server already said what is wrong with it */ }
    }
  }
})();
