// The set-up console's maps (issue #14): draw a service area, pick a point for the routing preview,
// show where a warning is. Nothing here is the only way: the area is also a GeoJSON text field and
// the point two coordinate fields, so the forms work with the keyboard alone and without JavaScript.
(function () {
  "use strict";
  // A refused form: take the keyboard to the list of what to correct (each item links to its field).
  const summary = document.querySelector(".error-summary");
  if (summary) summary.focus();

  const dataEl = document.getElementById("console-map-data");
  const mapEl = document.querySelector(".folium-map");
  if (!dataEl || !mapEl || !window.L) return;
  const data = JSON.parse(dataEl.textContent);
  const map = window[mapEl.id];
  if (!map) return;
  const lang = document.documentElement.lang === "en" ? "en" : "uk";
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

  if (data.mode === "draw" && map.pm) {
    const area = $("area");
    const drawn = L.featureGroup().addTo(map);
    map.pm.setLang(lang === "en" ? "en" : "ua");
    map.pm.setGlobalOptions({layerGroup: drawn, allowSelfIntersection: false});
    map.pm.addControls({position: "topleft", drawMarker: false, drawCircleMarker: false, drawPolyline: false,
                        drawCircle: false, drawText: false, drawRectangle: true, drawPolygon: true,
                        editMode: true, dragMode: false, cutPolygon: false, removalMode: true, rotateMode: false});
    // Geoman's buttons are empty links titled on their parent: give each its name for screen readers.
    for (const button of map.getContainer().querySelectorAll(".leaflet-buttons-control-button")) {
      const title = button.parentElement && button.parentElement.getAttribute("title");
      if (title) button.setAttribute("aria-label", title);
    }
    const polygons = () => {
      const out = [];
      for (const feature of drawn.toGeoJSON().features) {
        const g = feature.geometry;
        if (g && g.type === "Polygon") out.push(g.coordinates);
        if (g && g.type === "MultiPolygon") out.push(...g.coordinates);
      }
      return out;
    };
    const sync = () => {
      const parts = polygons();
      area.value = parts.length ? JSON.stringify({type: "MultiPolygon", coordinates: parts}) : "";
      const scope = $("scope-area");
      if (parts.length && scope) scope.checked = true;
    };
    const watch = (layer) => {
      layer.on("pm:edit", sync);
      drawn.addLayer(layer);
    };
    const load = (geometry) => {
      drawn.clearLayers();
      L.geoJSON(geometry).eachLayer(watch);
    };
    if (data.drawn) {
      try { load(data.drawn); } catch (e) { /* the server already said what is wrong with it */ }
    }
    map.on("pm:create", (e) => { watch(e.layer); sync(); });
    map.on("pm:remove", () => setTimeout(sync));
    area.addEventListener("change", () => {
      try { load(JSON.parse(area.value)); } catch (e) { drawn.clearLayers(); }
    });
  }
})();
