// A plan's territory on a map (issue #19): the new-plan and plan-settings forms. (A refused form's
// error summary takes the keyboard by its own `autofocus`.) The map shows the hromada's boundary (and
// the plan's territory now); a polygon drawn with Leaflet-Geoman (or a rectangle) fills the GeoJSON field and chooses
// "drawn on the map". Nothing here is the only way: the GeoJSON field takes a pasted polygon, so the
// form works with the keyboard alone and without JavaScript. Pasted text is shown on the map too.
(function () {
  "use strict";
  const dataEl = document.getElementById("plan-territory-data");
  const mapEl = document.querySelector(".folium-map");
  const area = document.getElementById("area");
  if (!dataEl || !mapEl || !area || !window.L) return;
  const data = JSON.parse(dataEl.textContent);
  const map = window[mapEl.id];
  if (!map || !map.pm || !window.drawArea) return;

  if (data.boundary) {
    L.geoJSON(data.boundary, {pmIgnore: true, snapIgnore: true, interactive: false,
                              style: {color: "#1864ab", weight: 2, dashArray: "6 4", fillOpacity: 0}}).addTo(map);
  }
  if (data.current) {  // the plan's territory now (its settings page)
    L.geoJSON(data.current, {pmIgnore: true, snapIgnore: true, interactive: false,
                             style: {color: "#495057", weight: 2, dashArray: "2 5", fillOpacity: 0.05}}).addTo(map);
  }

  const style = {color: "#c92a2a", weight: 3, fillOpacity: 0.15};
  const {drawn, load} = window.drawArea(map, area, {
    choice: document.getElementById("territory-drawn"), single: true, style,
    pmOptions: {allowSelfIntersection: true, snappable: true}});
  if (data.drawn) {
    try { load(data.drawn); } catch (e) { /* the server already said what is wrong with it */ }
  }
  window.planTerritory = {map, drawn};  // for tests
})();
