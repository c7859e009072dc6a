// Resident's report form on the public map. Everything from the server is put in with
// textContent, never innerHTML. Works by mouse, touch and keyboard (arrow keys move the map;
// "Use the map centre" takes the point under the map's centre).
(function () {
  "use strict";
  const form = document.getElementById("report-form");
  if (!form) return;
  const lang = document.documentElement.lang === "en" ? "en" : "uk";
  const msg = (name) => form.dataset["msg" + name];
  const csrfToken = window.hromadaCsrfToken;  // csrf.js
  const mapEl = document.querySelector(".folium-map");
  const map = mapEl ? window[mapEl.id] : null;
  const $ = (id) => document.getElementById(id);
  const errorBox = $("report-error");
  let marker = null;
  let idempotencyKey = null;
  let categoriesRequest = 0;
  let similarRequest = 0;
  const supported = new Set();  // reports this visitor said "me too" to

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

  async function getJSON(url) {
    const response = await fetch(url, {headers: {"Accept": "application/json"}});
    const body = await response.json();
    if (!response.ok) throw new Error(message(body));
    return body;
  }

  async function setPoint(lat, lon) {
    $("lat").value = lat.toFixed(6);
    $("lon").value = lon.toFixed(6);
    if (map) {
      if (marker) marker.setLatLng([lat, lon]);
      else marker = L.circleMarker([lat, lon], {radius: 9, color: "#c92a2a", weight: 3}).addTo(map);
    }
    await loadCategories();
  }

  async function loadCategories() {
    const select = $("category");
    const hint = $("category-hint");
    errorBox.textContent = "";
    const lat = $("lat").value, lon = $("lon").value;
    if (!lat || !lon) return;
    const mine = ++categoriesRequest;
    try {
      const data = await getJSON(`/api/reports/categories?lat=${encodeURIComponent(lat)}&lon=${encodeURIComponent(lon)}`);
      if (mine !== categoriesRequest) return;  // a newer point was chosen meanwhile
      const previous = select.value;
      select.replaceChildren();
      for (const c of data.categories) {
        const option = text("option", c[lang] || c.uk);
        option.value = c.code;
        select.append(option);
      }
      if (previous && [...select.options].some(o => o.value === previous)) select.value = previous;
      select.disabled = data.categories.length === 0;
      hint.textContent = (data.hromada[lang] || data.hromada.uk) + ": " + data.categories.length;
      await loadSimilar();
      await loadAssets();
    } catch (err) {
      select.replaceChildren(text("option", msg("Choose")));
      select.disabled = true;
      errorBox.textContent = err.message;
    }
  }

  async function loadSimilar() {
    const box = $("similar");
    const lat = $("lat").value, lon = $("lon").value, category = $("category").value;
    const mine = ++similarRequest;
    if (!lat || !lon || !category) { box.replaceChildren(); return; }
    const data = await getJSON(`/api/reports/nearby?lat=${encodeURIComponent(lat)}&lon=${encodeURIComponent(lon)}&category=${encodeURIComponent(category)}`);
    if (mine !== similarRequest) return;  // only the latest answer is shown
    box.replaceChildren();
    if (!data.reports.length) return;
    box.append(text("p", msg("Similar"), "similar-title"));
    const list = document.createElement("ul");
    for (const r of data.reports) {
      const item = document.createElement("li");
      item.dataset.code = r.code;
      const link = text("a", r.code);
      link.href = "/reports/" + encodeURIComponent(r.code);
      item.append(link, text("span", ` (${r.distance_m} ${msg("Metres")}): ${r.description} `));
      if (supported.has(r.code)) {
        item.append(text("strong", msg("MetooDone")));
      } else {
        const button = text("button", msg("Metoo"), "secondary");
        button.type = "button";
        button.addEventListener("click", () => meToo(r.code));
        item.append(button);
      }
      list.append(item);
    }
    box.append(list);
  }

  // "Me too" supports the report and nothing more: no e-mail of the form below goes with it. To be told
  // of its updates, the resident follows it on its page (which asks for the address on purpose).
  async function meToo(code) {
    const response = await fetch(`/api/reports/${encodeURIComponent(code)}/me-too`,
      {method: "POST", body: new FormData(), headers: {"X-CSRFToken": await csrfToken(), "Accept": "application/json"}});
    const data = await response.json();
    if (!response.ok) { errorBox.textContent = message(data); return; }
    supported.add(code);
    // The list may have been redrawn while the request ran: mark the item that is there now.
    const item = $("similar").querySelector(`li[data-code="${CSS.escape(code)}"]`);
    if (item) {
      const follow = text("a", msg("Follow"));
      follow.href = "/reports/" + encodeURIComponent(code) + "#follow-title";
      item.replaceChildren(text("strong", `${code}: ${msg("MetooDone")} `), follow);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.textContent = "";
    if (!$("lat").value || !$("lon").value) { errorBox.textContent = msg("Choose"); $("use-centre").focus(); return; }
    // One key per filled-in form: a double click or a retry after a lost answer files one report.
    idempotencyKey = idempotencyKey || (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
    const button = $("submit-report");
    button.disabled = true;
    try {
      const response = await fetch("/api/reports", {method: "POST", body: new FormData(form),
        headers: {"X-CSRFToken": await csrfToken(), "Idempotency-Key": idempotencyKey, "Accept": "application/json"}});
      const data = await response.json();
      if (!response.ok) { errorBox.textContent = message(data); return; }
      const result = $("report-result");
      const code = text("a", data.code);
      code.href = data.public_url;
      // Joined to an open report on the same lamp: not a new report, and not a new code to track.
      result.replaceChildren(text("p", msg(data.joined_existing ? "Joined" : "Sent") + " "), text("p", ""));
      result.children[0].append(code);
      result.children[1].textContent = data.routing.reason[lang];
      if (data.private_url) {  // absent when the report joined an open one on the same lamp
        // Shown as a person reads it (the Cyrillic code, not %D0%AF…); the link itself stays encoded.
        const privateLink = text("a", decodeURI(data.private_url));
        privateLink.href = data.private_url;
        const line = text("p", msg("Private") + " ");
        line.append(privateLink);
        result.append(line);
      }
      result.hidden = false;
      form.reset();
      idempotencyKey = null;
      result.focus();
    } catch (err) {
      errorBox.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  });

  let assetsRequest = 0;
  // Lamps (road segments, …) near the place, for categories about them: the resident may pick the
  // one that is out; left at "nearest", the service takes the nearest in reach.
  async function loadAssets() {
    const box = $("asset-choice"), select = $("asset_id");
    const lat = $("lat").value, lon = $("lon").value, category = $("category").value;
    const mine = ++assetsRequest;
    if (!lat || !lon || !category) { box.hidden = true; select.replaceChildren(); return; }
    const data = await getJSON(`/api/reports/assets?lat=${encodeURIComponent(lat)}&lon=${encodeURIComponent(lon)}&category=${encodeURIComponent(category)}`);
    if (mine !== assetsRequest) return;
    const previous = select.value;
    const nearest = text("option", msg("Nearest"));
    nearest.value = "";
    select.replaceChildren(nearest);
    for (const a of data.assets) {
      const option = text("option", `№ ${a.ref}${a.name && a.name !== a.ref ? " (" + a.name + ")" : ""} — ${a.distance_m} ${msg("Metres")}`);
      option.value = String(a.id);
      select.append(option);
    }
    if ([...select.options].some(o => o.value === previous)) select.value = previous;  // keep the choice
    box.hidden = data.assets.length === 0;
  }

  $("category").addEventListener("change", () => {
    loadSimilar().catch(e => { errorBox.textContent = e.message; });
    loadAssets().catch(e => { errorBox.textContent = e.message; });
  });
  for (const id of ["lat", "lon"]) $(id).addEventListener("change", loadCategories);
  $("use-centre").addEventListener("click", () => {
    if (!map) return;
    const c = map.getCenter();
    setPoint(c.lat, c.lng);
  });
  $("use-location").addEventListener("click", () => {
    if (!navigator.geolocation) return;
    navigator.geolocation.getCurrentPosition(
      (pos) => { setPoint(pos.coords.latitude, pos.coords.longitude); if (map) map.setView([pos.coords.latitude, pos.coords.longitude], 17); },
      // The browser's own message is in its language, not the page's: say it ourselves.
      (err) => { errorBox.textContent = err.code === err.PERMISSION_DENIED ? msg("GeoDenied") : msg("GeoFailed"); });
  });
  // "preclick" fires for every click on the map, also on a village or area drawn over it.
  if (map) map.on("preclick", (e) => setPoint(e.latlng.lat, e.latlng.lng));
})();
