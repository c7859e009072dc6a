// A plan's territory on a map (issue #19): the new-plan and plan-settings forms. A refused form takes
// the keyboard to its error summary. The map shows the hromada's boundary (and the plan's territory
// now); a polygon drawn with Leaflet-Geoman (or a rectangle) fills the GeoJSON field and chooses
// "drawn on the map". Nothing here is the only way: the GeoJSON field takes a pasted polygon, so the
// form works with the keyboard alone and without JavaScript. Pasted text is shown on the map too.
(function () {
  "use strict";
  const summary = document.querySelector(".error-summary");
  if (summary) summary.focus();

  const dataEl = document.getElementById("plan-territory-data");
  const mapEl = document.querySelector(".folium-map");
  const area = document.getElementById("area");
  if (!dataEl || !mapEl || !area || !window.L) return;
  const data = JSON.parse(dataEl.textContent);
  const map = window[mapEl.id];
  if (!map || !map.pm) return;
  const lang = data.lang === "en" ? "en" : "uk";

  if (data.boundary) {
    L.geoJSON(data.boundary, {pmIgnore: true, snapIgnore: true, interactive: false,
                              style: {color: "#1864ab", weight: 2, dashArray: "6 4", fillOpacity: 0}}).addTo(map);
  }
  if (data.current) {  // the plan's territory now (its settings page)
    L.geoJSON(data.current, {pmIgnore: true, snapIgnore: true, interactive: false,
                             style: {color: "#495057", weight: 2, dashArray: "2 5", fillOpacity: 0.05}}).addTo(map);
  }

  const drawn = L.featureGroup().addTo(map);
  map.pm.setLang(lang === "en" ? "en" : "ua");
  map.pm.setGlobalOptions({layerGroup: drawn, allowSelfIntersection: true, snappable: true});
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
    area.value = !parts.length ? "" : JSON.stringify(parts.length === 1 ? {type: "Polygon", coordinates: parts[0]}
                                                                         : {type: "MultiPolygon", coordinates: parts});
    const choice = document.getElementById("territory-drawn");
    if (parts.length && choice) choice.checked = true;
  };
  const watch = (layer) => {
    layer.on("pm:edit", sync);
    drawn.addLayer(layer);
  };
  const load = (geometry) => {
    drawn.clearLayers();
    L.geoJSON(geometry, {style: {color: "#c92a2a", weight: 3, fillOpacity: 0.15}}).eachLayer(watch);
  };
  if (data.drawn) {
    try { load(data.drawn); } catch (e) { /* the server already said what is wrong with it */ }
  }
  map.on("pm:create", (e) => {
    e.layer.setStyle && e.layer.setStyle({color: "#c92a2a", weight: 3, fillOpacity: 0.15});
    watch(e.layer);
    sync();
  });
  map.on("pm:remove", () => setTimeout(sync));
  area.addEventListener("change", () => {
    try { load(JSON.parse(area.value)); } catch (e) { drawn.clearLayers(); }
  });
  window.planTerritory = {map, drawn};  // for tests
})();
