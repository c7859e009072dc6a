// The public map's layers, loaded after the page shows (webmap/folium_lazy.py builds the calls).
// A page carries no feature data: each layer asks the server for what lies in the current view
// (GeoJSON, simplified to the zoom) or comes as vector tiles, so the first view stays the same size
// however much the hromada holds. Popups are built with textContent, never innerHTML.
(function () {
  "use strict";
  const api = {pending: 0};  // requests in flight (tests wait for 0)

  function popupTable(rows) {
    const table = document.createElement("table");
    table.className = "popup-table";
    for (const [label, value] of rows || []) {
      const tr = table.insertRow();
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = label;
      const td = document.createElement("td");
      td.textContent = value;
      tr.append(th, td);
    }
    return table;
  }

  function withQuery(url, params) {
    return url + (url.includes("?") ? "&" : "?") + new URLSearchParams(params).toString();
  }

  async function getJSON(url, signal) {
    api.pending++;
    try {
      const response = await fetch(url, {signal, headers: {"Accept": "application/geo+json, application/json"}});
      if (!response.ok) throw new Error(String(response.status));
      return await response.json();
    } finally {
      api.pending--;
    }
  }

  // A crowded view comes as clusters (webmap/map_layers.py): a circle sized by how many it holds, its
  // count written on it; a click (or Enter on its tooltip's marker) zooms in towards it.
  function clusterMarker(feature, latlng) {
    const count = feature.properties._cluster;
    const style = feature.properties._style || {};
    const marker = L.circleMarker(latlng, Object.assign({}, style, {
      radius: Math.min(22, 8 + 3 * Math.log10(count + 1) * 2), weight: 2, fill: true, fillOpacity: 0.45}));
    marker.bindTooltip(String(count), {permanent: true, direction: "center", className: "cluster-count"});
    marker.on("click", (event) => {
      const map = marker._map;
      if (map) map.setView(event.latlng, Math.min(map.getZoom() + 2, map.getMaxZoom() || 19));
    });
    return marker;
  }

  // A GeoJSON layer that holds the features in the map's view: fetched when the layer is switched
  // on and again when the view leaves what was loaded (or the zoom changes the simplification).
  api.viewportLayer = function (options) {
    const points = options.points;
    const layer = L.geoJSON(null, {
      style: (feature) => feature.properties._style,
      pointToLayer: (feature, latlng) => feature.properties._cluster
        ? clusterMarker(feature, latlng)
        : L.circleMarker(latlng, Object.assign({radius: 6, weight: 2, fill: true}, feature.properties._style)),
      onEachFeature: (feature, featureLayer) => {
        if (!feature.properties._cluster) {
          featureLayer.bindPopup(() => popupTable(feature.properties._popup), {maxWidth: 320});
        }
        if (feature.properties._label && !feature.properties._cluster) {  // a cluster shows its count
          featureLayer.bindTooltip(() => api.text(feature.properties._label), {sticky: true});
        }
      },
    });
    let map = null, controller = null, loaded = null;  // loaded: {bounds, zoom, complete}

    function covered() {
      if (!loaded) return false;
      const zoomSame = loaded.zoom === map.getZoom() || (points && loaded.complete && !loaded.clustered);
      return zoomSame && (loaded.whole || loaded.bounds.contains(map.getBounds()));
    }

    async function load() {
      if (!map || covered()) return;
      if (controller) controller.abort();
      controller = new AbortController();
      const bounds = map.getBounds().pad(0.5), zoom = map.getZoom();
      const bbox = [bounds.getWest(), bounds.getSouth(), bounds.getEast(), bounds.getNorth()]
        .map((v) => v.toFixed(5)).join(",");
      try {
        const data = await getJSON(withQuery(options.url, {bbox, zoom}), controller.signal);
        layer.clearLayers();
        layer.addData(data);
        const complete = data.numberReturned >= data.numberMatched;
        // A hromada wholly in view and every feature returned: no need to ask again when panning.
        loaded = {bounds, zoom, complete, clustered: data.clustered, whole: complete && data.wholeHromada};
        layer.fire("viewportload", {matched: data.numberMatched, returned: data.numberReturned});
      } catch (error) {
        if (error.name !== "AbortError") layer.fire("viewporterror", {error});
      }
    }

    layer.on("add", () => {
      map = layer._map;
      map.on("moveend", load);
      load();
    });
    layer.on("remove", () => {
      if (map) map.off("moveend", load);
      if (controller) controller.abort();
      map = null;
    });
    return layer;
  };

  // Popups for a vector-tile layer: a click asks the server which feature lies under it (a few
  // pixels of tolerance) and shows its rows, as a GeoJSON feature's popup would.
  api.tilePopups = function (grid, url) {
    let map = null;
    async function onClick(event) {
      const place = {lon: event.latlng.lng.toFixed(6), lat: event.latlng.lat.toFixed(6), zoom: map.getZoom()};
      try {
        const body = await getJSON(withQuery(url, place));
        L.popup({maxWidth: 320}).setLatLng(event.latlng).setContent(popupTable(body.popup)).openOn(map);
      } catch (error) { /* nothing of this layer under the click */ }
    }
    grid.on("add", () => { map = grid._map; map.on("click", onClick); });
    grid.on("remove", () => { if (map) map.off("click", onClick); map = null; });
  };

  // The hromada's vehicles now (GTFS-Realtime, webmap/transit.py): asked again every options.every ms
  // while the overlay is on the map and the page is visible; a vehicle seen before moves, one gone is
  // removed. Each marker is labelled with its route for screen readers and as a tooltip.
  api.vehiclesLayer = function (options) {
    const layer = L.layerGroup(), markers = new Map();
    let timer = null;
    async function load() {
      if (!layer._map || document.hidden) return;
      let data;
      try { data = await getJSON(options.url); } catch (error) { return; }  // try again next time
      const seen = new Set();
      for (const feature of data.features || []) {
        const p = feature.properties, [lon, lat] = feature.geometry.coordinates, id = String(p.id);
        const name = (p.route ? options.route + " " + p.route : options.unknown) + (p.label ? " — " + p.label : "");
        seen.add(id);
        let marker = markers.get(id);
        if (!marker) {
          const badge = document.createElement("span");
          badge.textContent = p.route || "•";
          badge.style.cssText = "display:block;background:#5f3dc4;color:#fff;border:2px solid #fff;"
            + "border-radius:50%;width:24px;height:24px;line-height:24px;text-align:center;font-weight:700";
          marker = L.marker([lat, lon], {title: name, alt: name, icon: L.divIcon(
            {className: "vehicle-marker", html: badge, iconSize: [28, 28]})}).bindTooltip(() => api.text(name));
          marker.on("add", () => marker.getElement().setAttribute("aria-label", name));
          markers.set(id, marker.addTo(layer));
        } else {
          marker.setLatLng([lat, lon]);
        }
      }
      for (const [id, marker] of markers) if (!seen.has(id)) { layer.removeLayer(marker); markers.delete(id); }
      layer.fire("vehiclesload", {count: seen.size});
    }
    layer.on("add", () => {
      load();
      timer = setInterval(load, options.every);
      document.addEventListener("visibilitychange", load);
    });
    layer.on("remove", () => {
      clearInterval(timer);
      document.removeEventListener("visibilitychange", load);
    });
    return layer;
  };

  api.popupTable = popupTable;  // folium_safe's popups on the other maps build theirs here too
  api.text = function (value) {
    const span = document.createElement("span");
    span.textContent = value || "";
    return span;
  };
  window.hromadaMap = api;
})();
