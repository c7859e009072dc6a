// The feature editor (issue #19, webmap/editor.py): the map beside the server-rendered form. Nothing here
// is the only way: a point is also its latitude and longitude, a line or polygon its GeoJSON text, so the
// form works with the keyboard alone and without JavaScript. Here a point is dragged (or placed with a
// click), lines and polygons drawn and reshaped with Leaflet-Geoman, with snapping; the list page's map
// leads to each feature's page. Text from the server is put in with textContent only.
(function () {
  "use strict";
  const dataEl = document.getElementById("editor-map-data");
  const mapEl = document.querySelector(".folium-map");
  if (!dataEl || !mapEl || !window.L) return;
  const data = JSON.parse(dataEl.textContent);
  const map = window[mapEl.id];
  if (!map) return;
  const $ = (id) => document.getElementById(id);
  const wrap = mapEl.closest(".map-wrap") || mapEl;
  const say = (name) => wrap.dataset[name] || "";
  const status = $("map-status");
  const announce = (text) => { if (status) status.textContent = text; };
  const plain = (value) => { const el = document.createElement("span"); el.textContent = value; return el; };

  if (data.boundary) {
    L.geoJSON(data.boundary, {pmIgnore: true, interactive: false,
                              style: {color: "#1864ab", weight: 2, dashArray: "6 4", fillOpacity: 0}}).addTo(map);
  }
  const currentStyle = {color: "#c92a2a", weight: 3, dashArray: "6 6", fillOpacity: 0.05};
  if (data.current) {  // a conflict: the current place, dashed red, beside this person's
    L.geoJSON(data.current, {pmIgnore: true, snapIgnore: true, interactive: false, style: currentStyle,
                             pointToLayer: (_f, latlng) => L.circleMarker(latlng, {...currentStyle, radius: 12})})
      .addTo(map);
  }

  // The layer's other features around this one: grey, for orientation; lines and polygons snap to them.
  for (const item of data.neighbours || []) {
    if (!item.geometry) continue;
    L.geoJSON(item.geometry, {pmIgnore: true, snapIgnore: false, interactive: true,
                              style: {color: "#495057", weight: 3, opacity: 0.7, fillOpacity: 0.1},
                              pointToLayer: (_f, latlng) => L.circleMarker(latlng, {
                                radius: 5, color: "#495057", weight: 2, fillOpacity: 0.4, pmIgnore: true,
                                snapIgnore: false})})
      .bindTooltip(plain(item.title)).addTo(map);
  }

  // --- the list page: each feature a link to its page -------------------------------------------------
  if (data.mode === "list") {
    const group = L.featureGroup().addTo(map);
    for (const item of data.features || []) {
      if (!item.geometry) continue;
      const layer = L.geoJSON(item.geometry, {
        style: {color: "#1971c2", weight: 4, fillOpacity: 0.2},
        pointToLayer: (_f, latlng) => L.circleMarker(latlng, {radius: 7, color: "#1971c2", weight: 2, fillOpacity: 0.6}),
      });
      layer.bindTooltip(plain(item.title));
      layer.on("click", () => { window.location.href = item.url; });
      group.addLayer(layer);
    }
    if (group.getLayers().length) map.fitBounds(group.getBounds(), {maxZoom: 17, padding: [20, 20]});
    return;
  }

  // --- a point: drag the marker, or click the map -----------------------------------------------------
  if (data.mode === "point") {
    const lat = $("lat"), lon = $("lon");
    if (!lat || !lon) return;
    let marker = null;
    const number = (input) => Number(String(input.value).trim().replace(",", "."));
    const fill = (latlng) => {
      lat.value = latlng.lat.toFixed(7);
      lon.value = latlng.lng.toFixed(7);
      announce(`${say("moved")} ${lat.value}, ${lon.value}`);
    };
    const place = (latlng) => {
      if (marker) { marker.setLatLng(latlng); return; }
      marker = L.marker(latlng, {draggable: true, autoPan: true, keyboard: true, title: say("markerLabel"),
                                 alt: say("markerLabel")}).addTo(map);
      marker.on("dragend", () => fill(marker.getLatLng()));
      // The marker takes the keyboard's focus (Tab): the arrow keys move it a few pixels, with Shift more.
      marker.getElement().addEventListener("keydown", (e) => {
        const step = e.shiftKey ? 25 : 5;
        const move = {ArrowUp: [0, -step], ArrowDown: [0, step], ArrowLeft: [-step, 0], ArrowRight: [step, 0]}[e.key];
        if (!move) return;
        e.preventDefault();
        e.stopPropagation();
        const moved = map.containerPointToLatLng(map.latLngToContainerPoint(marker.getLatLng()).add(move));
        marker.setLatLng(moved);
        fill(moved);
      });
    };
    const fromInputs = () => {
      const la = number(lat), lo = number(lon);
      if (String(lat.value).trim() && String(lon.value).trim() && isFinite(la) && isFinite(lo)
          && Math.abs(la) <= 90 && Math.abs(lo) <= 180) {
        place(L.latLng(la, lo));
        return true;
      }
      return false;
    };
    if (fromInputs()) map.setView(marker.getLatLng(), Math.max(map.getZoom(), 16));
    map.on("click", (e) => { place(e.latlng); fill(e.latlng); });
    for (const input of [lat, lon]) {
      input.addEventListener("change", () => { if (fromInputs()) map.panTo(marker.getLatLng()); });
    }
    return;
  }

  // --- a line or polygon: Leaflet-Geoman, with snapping -------------------------------------------------
  const field = $("geometry");
  if (data.mode !== "shape" || !field || !map.pm) return;
  const type = data.geometry_type || "Polygon";
  const lines = type.endsWith("LineString");
  const multi = type.startsWith("Multi");
  const drawn = L.featureGroup().addTo(map);
  map.pm.setLang(data.lang === "en" ? "en" : "ua");
  map.pm.setGlobalOptions({layerGroup: drawn, snappable: true, snapDistance: 20, allowSelfIntersection: false});
  map.pm.addControls({position: "topleft", drawMarker: false, drawCircleMarker: false, drawCircle: false,
                      drawText: false, drawPolyline: lines, drawRectangle: !lines, drawPolygon: !lines,
                      editMode: true, dragMode: true, cutPolygon: !lines, removalMode: true, rotateMode: false});
  // Geoman's buttons are empty links titled on their parent: give each its name for screen readers.
  for (const button of map.getContainer().querySelectorAll(".leaflet-buttons-control-button")) {
    const title = button.parentElement && button.parentElement.getAttribute("title");
    if (title) button.setAttribute("aria-label", title);
  }

  const parts = () => {
    const out = [];
    for (const feature of drawn.toGeoJSON(false).features) {  // false: every digit, not 6
      const g = feature.geometry;
      if (!g) continue;
      if (g.type === (lines ? "LineString" : "Polygon")) out.push(g.coordinates);
      if (g.type === (lines ? "MultiLineString" : "MultiPolygon")) out.push(...g.coordinates);
    }
    return out;
  };
  const sync = () => {
    const found = parts();
    if (!found.length) field.value = "";
    else if (multi) field.value = JSON.stringify({type, coordinates: found});
    else field.value = JSON.stringify({type, coordinates: found[found.length - 1]});
    announce(say("shapeChanged"));
  };
  const watch = (layer) => {
    layer.on("pm:edit pm:dragend pm:cut pm:rotateend", sync);
  };
  const load = () => {
    drawn.clearLayers();
    let value = null;
    try { value = JSON.parse(field.value || "null"); } catch (_e) { value = null; }
    if (!value || !value.type) return;
    L.geoJSON(value, {style: {color: "#1971c2", weight: 4, fillOpacity: 0.2}}).eachLayer((layer) => {
      drawn.addLayer(layer);
      watch(layer);
    });
    if (drawn.getLayers().length) map.fitBounds(drawn.getBounds(), {maxZoom: 18, padding: [20, 20]});
  };
  load();
  map.on("pm:create", (e) => {
    if (!multi) {  // one shape: the new one replaces the old
      for (const layer of drawn.getLayers()) if (layer !== e.layer) drawn.removeLayer(layer);
    }
    watch(e.layer);
    sync();
  });
  map.on("pm:remove", sync);
  field.addEventListener("change", load);
})();
