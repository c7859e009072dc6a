// The plan editor (issue #9): zones drawn and reshaped with Leaflet-Geoman, attributes in the form
// beside the map. The list of zones is the keyboard's way in: choose a zone there (or focus its
// shape on the map and press Enter) and its form opens. Every write names the version it edits;
// a 412 shows the planner their values and the current ones, attribute by attribute, to merge.
// Choosing a zone in the list (or with the keyboard on the map) fits the map to it. A read-only
// plan (approved, superseded) has no form: choosing a zone shows its attributes (#19).
// Text from the server is put in with textContent only.
(function () {
  "use strict";
  const root = document.getElementById("plan-editor");
  if (!root) return;
  const data = JSON.parse(document.getElementById("plan-data").textContent);
  const lang = data.lang === "en" ? "en" : "uk";
  const msg = (name) => root.dataset["msg" + name] || name;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const map = window[document.querySelector(".folium-map").id];
  const $ = (id) => document.getElementById(id);
  const form = $("zone-form");
  const editable = Boolean(data.plan.editable && form);  // the page leaves the form out when read-only
  const reducedMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  const ATTRS = ["zone_code", "name", "permitted_uses", "max_height_m", "max_density", "notes"];
  const FIELD_IDS = {zone_code: "zone_code", name: "zone_name", permitted_uses: "permitted_uses",
                     max_height_m: "max_height_m", max_density: "max_density", notes: "notes"};
  const colours = Object.fromEntries(data.classes.map(c => [c.code, c.colour]));
  const className = Object.fromEntries(data.classes.map(c => [c.code, c.name]));
  const zones = new Map();   // id → the zone as the server last sent it
  const layers = new Map();  // id → its polygon on the map
  let selected = null;       // {id (null for a new zone), layer, geometryDirty}
  let lastRequest = null;    // to send again with repair: true
  let conflict = null;       // {mine, current}
  let splitting = false;
  let currentOverlay = null; // the current geometry shown during a conflict

  map.pm.setLang(lang === "en" ? "en" : "ua");
  map.pm.setGlobalOptions({snappable: true, snapDistance: 20, allowSelfIntersection: true});
  if (editable) {
    map.pm.addControls({position: "topleft", drawMarker: false, drawCircleMarker: false, drawPolyline: false,
                        drawCircle: false, drawText: false, drawRectangle: true, drawPolygon: true, editMode: true,
                        dragMode: false, cutPolygon: true, removalMode: true, rotateMode: false});
    // Geoman's buttons are empty links titled on their parent: give each its name for screen readers.
    for (const button of map.getContainer().querySelectorAll(".leaflet-buttons-control-button")) {
      const title = button.parentElement && button.parentElement.getAttribute("title");
      if (title) button.setAttribute("aria-label", title);
    }
  }
  // The plan's territory, for orientation: not editable, and zones snap to each other, not to it.
  L.geoJSON(data.plan.area, {pmIgnore: true, snapIgnore: true, interactive: false,
                            style: {color: "#1971c2", weight: 2, dashArray: "6 4", fillOpacity: 0}}).addTo(map);

  function text(tag, value, cls) {
    const el = document.createElement(tag);
    el.textContent = value;
    if (cls) el.className = cls;
    return el;
  }

  function message(body) {
    if (body && body.message) return body.message[lang] || body.message.uk;
    return String(body);
  }

  function show(value) {
    return value === null || value === undefined || value === "" ? "—" : String(value);
  }

  function styleFor(zone, active) {
    const colour = colours[zone && zone.zone_code] || "#868e96";
    return {color: active ? "#1a1a1a" : colour, fillColor: colour, weight: active ? 4 : 2, fillOpacity: 0.45};
  }

  function zoneLabel(zone) {
    return `№${zone.id} · ${zone.zone_code} — ${className[zone.zone_code] || ""}${zone.name ? " · " + zone.name : ""}`
      + ` (${msg("Version")} ${zone.version})`;
  }

  function toLayer(geometry) {
    const layer = L.GeoJSON.geometryToLayer({type: "Feature", geometry, properties: {}});
    return layer;
  }

  // A polygon on the map is reachable by Tab and opens its form with Enter or Space.
  function makeFocusable(layer, id) {
    const el = layer.getElement && layer.getElement();
    if (!el) return;
    el.setAttribute("tabindex", "0");
    el.setAttribute("role", "button");
    el.setAttribute("aria-label", msg("Select") + ": " + zoneLabel(zones.get(id)));
    el.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(id, {zoom: true}); }
    });
  }

  function watch(layer, id) {
    layer.zoneId = id;
    layer.on("click", () => { if (!splitting) select(layer.zoneId); });
    layer.on("pm:edit", () => geometryEdited(layer));
  }

  function addZoneLayer(zone) {
    const layer = toLayer(zone.geometry);
    layer.setStyle(styleFor(zone, false));
    layer.addTo(map);
    watch(layer, zone.id);
    layers.set(zone.id, layer);
    makeFocusable(layer, zone.id);
    return layer;
  }

  function setZone(zone) {
    zones.set(zone.id, zone);
    let layer = layers.get(zone.id);
    if (layer) {
      layer.setLatLngs(toLayer(zone.geometry).getLatLngs());
      if (layer.pm && layer.pm.enabled()) { layer.pm.disable(); layer.pm.enable(); }
      layer.setStyle(styleFor(zone, selected && selected.id === zone.id));
      makeFocusable(layer, zone.id);
    } else {
      layer = addZoneLayer(zone);
    }
    renderList();
    return layer;
  }

  function renderList() {
    const list = $("zone-list");
    list.replaceChildren();
    const sorted = [...zones.values()].sort((a, b) => a.zone_code.localeCompare(b.zone_code) || a.id - b.id);
    for (const zone of sorted) {
      const item = document.createElement("li");
      const button = text("button", zoneLabel(zone), "secondary zone-button");
      button.type = "button";
      button.dataset.zone = String(zone.id);
      if (selected && selected.id === zone.id) button.setAttribute("aria-current", "true");
      button.addEventListener("click", () => select(zone.id, {zoom: true}));
      item.append(button);
      list.append(item);
    }
    $("zone-count").textContent = String(zones.size);
  }

  function clearMessages() {
    $("editor-error").textContent = "";
    $("repair").hidden = true;
    $("editor-status").hidden = true;
    $("editor-status").textContent = "";
  }

  function status(value) {
    const box = $("editor-status");
    box.textContent = value;
    box.hidden = false;
  }

  function fillForm(values) {
    for (const name of ATTRS) {
      const value = values[name];
      $(FIELD_IDS[name]).value = value === null || value === undefined ? "" : String(value);
    }
  }

  function readForm() {
    const out = {};
    for (const name of ATTRS) {
      const value = $(FIELD_IDS[name]).value.trim();
      out[name] = value === "" ? null : value;
    }
    return out;
  }

  function same(a, b) {
    if ((a === null || a === undefined || a === "") && (b === null || b === undefined || b === "")) return true;
    if (typeof a === "number" || typeof b === "number") return Number(String(a).replace(",", ".")) === Number(String(b).replace(",", "."));
    return String(a) === String(b);
  }

  function unselect() {
    if (selected && selected.layer) {
      const zone = selected.id ? zones.get(selected.id) : null;
      if (zone) selected.layer.setStyle(styleFor(zone, false));
    }
  }

  // The map shows the whole zone: a zone chosen in the list may be a speck at the plan's zoom.
  function fitZone(layer) {
    const bounds = layer.getBounds && layer.getBounds();
    if (bounds && bounds.isValid()) map.fitBounds(bounds, {padding: [24, 24], maxZoom: 18, animate: !reducedMotion});
  }

  // A read-only plan: the chosen zone's attributes as a list of terms, no inputs.
  function showFacts(zone) {
    const box = $("zone-facts");
    box.replaceChildren();
    for (const name of ATTRS) {
      const value = name === "zone_code" ? `${zone.zone_code} — ${className[zone.zone_code] || ""}` : zone[name];
      box.append(text("dt", data.labels[name]), text("dd", show(value)));
    }
  }

  function select(id, {focus = true, zoom = false} = {}) {
    if (selected && selected.id === null && selected.layer && id !== null) {
      selected.layer.remove();  // an unsaved new shape is dropped when another zone is chosen
    }
    unselect();
    const zone = zones.get(id);
    const layer = layers.get(id);
    selected = {id, layer, geometryDirty: false};
    layer.setStyle(styleFor(zone, true));
    layer.bringToFront();
    if (editable) {
      hideConflict();
      clearMessages();
      fillForm(zone);
      $("reason").value = "";
      $("geometry-state").textContent = "";
    } else {
      showFacts(zone);
    }
    $("zone-form-title").textContent = zoneLabel(zone);
    $("zone-history").hidden = false;
    $("zone-history").href = `/plans/zones/${encodeURIComponent(id)}/history`;
    renderList();
    if (zoom) fitZone(layer);
    if (focus) $("zone-form-title").focus();
  }

  function geometryEdited(layer) {
    const id = layer.zoneId;
    if (id === undefined) return;
    if (!selected || selected.id !== id) select(id, {focus: false});
    selected.layer = layer;
    selected.geometryDirty = true;
    $("geometry-state").textContent = msg("GeometryEdited");
  }

  function geometryOf(layer) {
    return layer.toGeoJSON().geometry;
  }

  async function send(method, url, body) {
    const options = {method, headers: {"X-CSRFToken": csrf, "Accept": "application/json"}};
    if (body !== undefined) {
      options.body = JSON.stringify(body);
      options.headers["Content-Type"] = "application/json";
    }
    const response = await fetch(url, options);
    let payload = null;
    try { payload = await response.json(); } catch (e) { payload = {message: {uk: response.statusText, en: response.statusText}}; }
    return {status: response.status, ok: response.ok, body: payload};
  }

  function showError(answer) {
    $("editor-error").textContent = message(answer.body);
    $("repair").hidden = !(answer.body && answer.body.repairable);
  }

  // --- saving --------------------------------------------------------------------------------

  async function save({repair = false} = {}) {
    clearMessages();
    if (!selected) { $("editor-error").textContent = msg("DrawFirst"); return; }
    const values = readForm();
    const reason = $("reason").value.trim();
    if (selected.id === null) {
      const body = {attributes: values, geometry: geometryOf(selected.layer), reason, repair};
      lastRequest = () => save({repair: true});
      const answer = await send("POST", `/plans/${data.plan.id}/zones`, body);
      if (!answer.ok) { showError(answer); return; }
      selected.layer.remove();
      const layer = setZone(answer.body);
      selected = {id: answer.body.id, layer, geometryDirty: false};
      select(answer.body.id, {focus: false});
      status(`${msg("Created")}: ${zoneLabel(answer.body)}`);
      return;
    }
    const base = zones.get(selected.id);
    const changed = {};
    for (const name of ATTRS) if (!same(values[name], base[name])) changed[name] = values[name];
    const body = {version: base.version, attributes: changed, reason, repair};
    if (selected.geometryDirty) body.geometry = geometryOf(selected.layer);
    if (!Object.keys(changed).length && !body.geometry) { $("editor-error").textContent = msg("Nothing"); return; }
    lastRequest = () => save({repair: true});
    const answer = await send("PATCH", `/plans/zones/${selected.id}`, body);
    if (answer.status === 412) { showConflict({attributes: values, geometry: body.geometry || null, base}, answer.body.current); return; }
    if (!answer.ok) { showError(answer); return; }
    selected.geometryDirty = false;
    setZone(answer.body);
    select(answer.body.id, {focus: false});
    status(`${msg("Saved")}: ${zoneLabel(answer.body)}`);
  }

  async function removeZone(id, {confirmed = false} = {}) {
    clearMessages();
    const zone = zones.get(id);
    if (!zone) return false;
    if (!confirmed && !window.confirm(`${msg("ConfirmDelete")} ${zoneLabel(zone)}`)) return false;
    const reason = selected && selected.id === id ? $("reason").value.trim() : "";
    const answer = await send("DELETE", `/plans/zones/${id}?version=${zone.version}&reason=${encodeURIComponent(reason)}`);
    if (answer.status === 412) {
      setZone(answer.body.current);
      select(id, {focus: false});
      $("editor-error").textContent = message(answer.body);
      return false;
    }
    if (!answer.ok) { showError(answer); return false; }
    const layer = layers.get(id);
    if (layer) layer.remove();
    layers.delete(id);
    zones.delete(id);
    selected = null;
    renderList();
    fillForm({});
    $("zone-form-title").textContent = msg("SelectFirst");
    $("zone-history").hidden = false;
    $("zone-history").href = `/plans/zones/${encodeURIComponent(id)}/history`;
    status(`${msg("Deleted")}: №${id}`);
    $("zone-form-title").focus();
    return true;
  }

  async function split(line) {
    clearMessages();
    const zone = zones.get(selected.id);
    const answer = await send("POST", `/plans/zones/${selected.id}/split`,
                              {line, version: zone.version, reason: $("reason").value.trim()});
    if (answer.status === 412) { setZone(answer.body.current); $("editor-error").textContent = message(answer.body); return; }
    if (!answer.ok) { showError(answer); return; }
    for (const z of answer.body.zones) setZone(z);
    select(answer.body.zones[0].id, {focus: false});
    status(`${msg("Split")}: ${answer.body.zones.map(zoneLabel).join("; ")}`);
  }

  // --- conflicts -----------------------------------------------------------------------------

  function hideConflict() {
    conflict = null;
    $("conflict").hidden = true;
    $("conflict-fields").replaceChildren();
    if (currentOverlay) { currentOverlay.remove(); currentOverlay = null; }
  }

  function choice(name, index, which, caption, value, checked) {
    const wrapper = document.createElement("label");
    wrapper.className = "check";
    const input = document.createElement("input");
    input.type = "radio";
    input.name = "merge-" + name;
    input.value = which;
    input.id = `merge-${name}-${which}`;
    input.checked = checked;
    wrapper.append(input, text("span", ` ${caption}: `), text("strong", value));
    return wrapper;
  }

  function showConflict(mine, current) {
    conflict = {mine, current};
    const box = $("conflict-fields");
    box.replaceChildren();
    ATTRS.forEach((name, index) => {
      const set = document.createElement("fieldset");
      const differs = !same(mine.attributes[name], current[name]);
      set.append(text("legend", data.labels[name] + (differs ? " ≠" : "")));
      // What this planner changed defaults to theirs; everything else to the current version.
      const mineChanged = !same(mine.attributes[name], mine.base[name]);
      set.append(choice(name, index, "mine", msg("Yours"), show(mine.attributes[name]), mineChanged),
                 choice(name, index, "current", msg("Current"), show(current[name]), !mineChanged));
      box.append(set);
    });
    if (mine.geometry) {
      const set = document.createElement("fieldset");
      set.append(text("legend", msg("Geometry")));
      set.append(choice("geometry", 0, "mine", msg("Yours"), msg("GeometryYours"), true),
                 choice("geometry", 0, "current", msg("Current"), msg("GeometryCurrent"), false));
      box.append(set);
    }
    if (currentOverlay) currentOverlay.remove();
    currentOverlay = L.geoJSON(current.geometry, {pmIgnore: true, snapIgnore: true, interactive: false,
                                                  style: {color: "#c92a2a", weight: 3, dashArray: "8 6", fillOpacity: 0}});
    currentOverlay.addTo(map);
    $("conflict-intro").dataset.version = String(current.version);
    $("conflict").hidden = false;
    $("conflict-title").focus();
  }

  async function merge(takeCurrent) {
    if (!conflict) return;
    const {mine, current} = conflict;
    const merged = {};
    for (const name of ATTRS) {
      const picked = document.querySelector(`input[name="merge-${name}"]:checked`);
      merged[name] = !takeCurrent && picked && picked.value === "mine" ? mine.attributes[name] : current[name];
    }
    const geometryPick = document.querySelector('input[name="merge-geometry"]:checked');
    const keepMyGeometry = !takeCurrent && mine.geometry && geometryPick && geometryPick.value === "mine";
    const layer = selected.layer;
    const reason = $("reason").value;
    // The current version becomes the base: the next save is checked against it.
    zones.set(current.id, current);
    if (!keepMyGeometry) layer.setLatLngs(toLayer(current.geometry).getLatLngs());
    hideConflict();
    select(current.id, {focus: false});
    selected.geometryDirty = Boolean(keepMyGeometry);
    if (keepMyGeometry) {
      layer.setLatLngs(toLayer(mine.geometry).getLatLngs());
      $("geometry-state").textContent = msg("GeometryEdited");
    }
    fillForm(merged);
    $("reason").value = reason;
    const changed = ATTRS.some(name => !same(merged[name], current[name])) || keepMyGeometry;
    if (!changed) { status(msg("Merged")); $("zone-form-title").focus(); return; }
    await save();
    $("zone-form-title").focus();
  }

  // --- wiring --------------------------------------------------------------------------------

  if (!editable) {  // read-only: the zones to look at, nothing to change
    for (const zone of data.zones) setZone(zone);
    window.planEditor = {map, zones, layers, select, editable};
    return;
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); save(); });
  $("repair").addEventListener("click", () => { if (lastRequest) lastRequest(); });
  $("zone-delete").addEventListener("click", () => {
    if (!selected) { $("editor-error").textContent = msg("SelectFirst"); return; }
    if (selected.id === null) { selected.layer.remove(); selected = null; fillForm({}); return; }
    removeZone(selected.id);
  });
  $("zone-split").addEventListener("click", () => {
    clearMessages();
    if (!selected || selected.id === null) { $("editor-error").textContent = msg("SelectFirst"); return; }
    splitting = true;
    $("geometry-state").textContent = msg("SplitHint");
    map.pm.enableDraw("Line", {snappable: true});
  });
  $("merge-save").addEventListener("click", () => merge(false));
  $("merge-take-current").addEventListener("click", () => merge(true));

  map.on("pm:create", (e) => {
    if (e.shape === "Line") {
      e.layer.remove();
      if (splitting) { splitting = false; split(e.layer.toGeoJSON().geometry); }
      return;
    }
    // A new shape: its form opens empty; saving creates the zone.
    if (selected && selected.id === null && selected.layer) selected.layer.remove();
    unselect();
    hideConflict();
    clearMessages();
    selected = {id: null, layer: e.layer, geometryDirty: true};
    e.layer.setStyle(styleFor(null, true));
    e.layer.on("pm:edit", () => { if (selected && selected.layer === e.layer) selected.geometryDirty = true; });
    fillForm({zone_code: data.classes.length ? data.classes[0].code : ""});
    $("zone-form-title").textContent = msg("New");
    $("zone-history").hidden = true;
    $("geometry-state").textContent = msg("GeometryEdited");
    renderList();
    $("zone_code").focus();
  });
  map.on("pm:drawend", () => { if (splitting) { splitting = false; $("geometry-state").textContent = ""; } });
  // Geoman's cut replaces the zone's polygon with the cut one: keep ours pointing at it.
  map.on("pm:cut", (e) => {
    const id = e.originalLayer && e.originalLayer.zoneId;
    if (id === undefined) return;
    let layer = e.layer;
    if (layer instanceof L.LayerGroup) {  // a cut into pieces: one multipolygon
      const geometry = {type: "MultiPolygon", coordinates: []};
      layer.eachLayer((part) => {
        const g = part.toGeoJSON().geometry;
        if (g.type === "Polygon") geometry.coordinates.push(g.coordinates);
        else if (g.type === "MultiPolygon") geometry.coordinates.push(...g.coordinates);
      });
      map.removeLayer(layer);
      layer = toLayer(geometry).addTo(map);
    }
    watch(layer, id);
    layers.set(id, layer);
    layer.setStyle(styleFor(zones.get(id), true));
    makeFocusable(layer, id);
    geometryEdited(layer);
  });
  map.on("pm:remove", async (e) => {
    const id = e.layer.zoneId;
    if (id === undefined) { if (selected && selected.layer === e.layer) selected = null; return; }
    const done = await removeZone(id);
    if (!done && !map.hasLayer(e.layer)) e.layer.addTo(map);
  });

  for (const zone of data.zones) setZone(zone);
  window.planEditor = {map, zones, layers, select, editable};  // for tests and the console
})();
