// Drawing an area with Leaflet-Geoman into a GeoJSON text field (issue #14's service areas, issue #19's
// plan territories): polygons and rectangles drawn, reshaped or removed on the map fill the field; text
// typed or pasted into the field is drawn. The field is the real input, so the form works without
// JavaScript and with the keyboard alone; the map is a way to fill it.
(function () {
  "use strict";
  // drawArea(map, field, {choice, single, style, pmOptions}) → {drawn, load}
  //   choice: a radio to check once something is drawn ("drawn on the map");
  //   single: write one polygon as a Polygon (else always a MultiPolygon).
  window.drawArea = function (map, field, options) {
    const opts = options || {};
    const lang = document.documentElement.lang === "en" ? "en" : "ua";
    const drawn = L.featureGroup().addTo(map);
    map.pm.setLang(lang);
    map.pm.setGlobalOptions(Object.assign({layerGroup: drawn}, opts.pmOptions || {}));
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
      field.value = !parts.length ? ""
        : JSON.stringify(opts.single && parts.length === 1 ? {type: "Polygon", coordinates: parts[0]}
                                                           : {type: "MultiPolygon", coordinates: parts});
      if (parts.length && opts.choice) opts.choice.checked = true;
    };
    const watch = (layer) => {
      layer.on("pm:edit", sync);
      drawn.addLayer(layer);
    };
    const load = (geometry) => {
      drawn.clearLayers();
      L.geoJSON(geometry, opts.style ? {style: opts.style} : {}).eachLayer(watch);
    };
    map.on("pm:create", (e) => {
      if (opts.style && e.layer.setStyle) e.layer.setStyle(opts.style);
      watch(e.layer);
      sync();
    });
    map.on("pm:remove", () => setTimeout(sync));
    field.addEventListener("change", () => {
      try { load(JSON.parse(field.value)); } catch (e) { drawn.clearLayers(); }
    });
    return {drawn, load};
  };
})();
