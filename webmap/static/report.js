// Resident's report form on the public map (and on /reports/new). Everything from the server is put
// in with textContent, never innerHTML. Works by mouse, touch and keyboard (arrow keys move the map;
// "Report here" / "Use the map centre" take the point under the map's centre pin).
// Without a connection the report is kept on the phone (report_queue.js) and sent, once, when the
// connection returns. Without JavaScript the form is a plain HTML form (webmap/report_form.py).
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
  const queue = window.hromadaReportQueue;  // report_queue.js
  const hromadaCategories = [...document.getElementById("category").options].map(o => o.cloneNode(true));
  document.getElementById("place-buttons").hidden = false;

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

  // fetch() rejects with a TypeError when there is no connection; an answer, even an error, is not that.
  const isOffline = (err) => err instanceof TypeError || !navigator.onLine;

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
      select.dataset.loadedFor = `${lat},${lon}`;  // these are the categories at the chosen point
      hint.textContent = (data.hromada[lang] || data.hromada.uk) + ": " + data.categories.length;
      await loadSimilar();
      await loadAssets();
    } catch (err) {
      if (isOffline(err)) {  // routing happens when the report is sent: offer the hromada's categories
        const previous = select.value;
        select.replaceChildren(...hromadaCategories.map(o => o.cloneNode(true)));
        select.value = previous;
        select.disabled = false;
        hint.textContent = msg("OfflineCategories");
        return;
      }
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

  // The place typed as an address or a village → its point (layers/places.py; no outside geocoder).
  async function pointOfPlace(place) {
    const hromada = form.dataset.hromada ? `&hromada=${encodeURIComponent(form.dataset.hromada)}` : "";
    const data = await getJSON(`/api/places?q=${encodeURIComponent(place)}&limit=1${hromada}`);
    if (!data.places.length) throw new Error(`${msg("PlaceNotFound")}: ${place}`);
    return data.places[0];
  }

  // One report to the API; resolves with the answer's body, rejects with Error (refused: show it,
  // forget it) or TypeError (no connection: keep it).
  async function sendReport(formData, key) {
    if (!formData.get("lat") && formData.get("place")) {
      const found = await pointOfPlace(formData.get("place"));
      formData.set("lat", String(found.lat));
      formData.set("lon", String(found.lon));
    }
    const response = await fetch("/api/reports", {method: "POST", body: formData,
      headers: {"X-CSRFToken": await csrfToken(), "Idempotency-Key": key, "Accept": "application/json"}});
    const data = await response.json();
    if (!response.ok) throw new Error(message(data));
    return data;
  }

  function showSent(data) {
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
    result.focus();
  }

  function showQueued(count) {
    const result = $("report-result");
    result.replaceChildren(text("p", msg("Queued"), "queued"));
    result.dataset.waiting = String(count);
    result.hidden = false;
    result.focus();
  }

  // Everything kept on the phone, oldest first, each once; stops at the first missing connection.
  let flushing = false;
  async function sendQueued() {
    if (!queue || flushing || !navigator.onLine) return;
    flushing = true;
    try {
      for (const entry of (await queue.all()).sort((a, b) => a.created - b.created)) {
        try {
          const data = await sendReport(queue.formData(entry), entry.key);
          await queue.remove(entry.key);
          showSent(data);
        } catch (err) {
          if (isOffline(err)) return;
          await queue.remove(entry.key);  // refused (say why); sending it again would not help
          errorBox.textContent = err.message;
        }
      }
    } finally {
      flushing = false;
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.textContent = "";
    if (!$("lat").value && !$("lon").value && !$("place").value.trim()) {
      errorBox.textContent = msg("Choose"); $("place").focus(); return;
    }
    // One key per filled-in form: a double click or a retry after a lost answer files one report.
    idempotencyKey = idempotencyKey || (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
    const button = $("submit-report");
    button.disabled = true;
    const formData = new FormData(form);
    try {
      if (!navigator.onLine && queue) throw new TypeError("offline");
      showSent(await sendReport(formData, idempotencyKey));
      form.reset();
      idempotencyKey = null;
    } catch (err) {
      if (isOffline(err) && queue) {
        await queue.add(idempotencyKey, formData);
        showQueued((await queue.all()).length);
        form.reset();
        idempotencyKey = null;
      } else {
        errorBox.textContent = err.message;
      }
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
  $("place").addEventListener("change", async () => {
    const place = $("place").value.trim();
    if (!place || !navigator.onLine) return;  // offline: found when the report is sent
    try {
      const found = await pointOfPlace(place);
      if (map) map.setView([found.lat, found.lon], 17);
      await setPoint(found.lat, found.lon);
    } catch (err) {
      if (!isOffline(err)) errorBox.textContent = err.message;
    }
  });
  // "preclick" fires for every click on the map, also on a village or area drawn over it.
  if (map) map.on("preclick", (e) => setPoint(e.latlng.lat, e.latlng.lng));
  const reportHere = $("report-here");  // the phone's "report here" under the map's fixed pin
  if (reportHere && map) {
    reportHere.hidden = false;
    document.querySelector(".centre-pin").hidden = false;
  }
  if (reportHere && map) reportHere.addEventListener("click", () => {
    const c = map.getCenter();
    setPoint(c.lat, c.lng);
    $("category").focus();
  });

  // A photo taken on the spot knows where: offer its GPS position as the place. The reader (exifr)
  // is fetched only when a photo is chosen, so the first view stays light.
  let exifrLoading = null;
  function loadExifr() {
    exifrLoading = exifrLoading || new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = form.dataset.exifr;
      script.onload = () => resolve(window.exifr);
      script.onerror = reject;
      document.head.append(script);
    });
    return exifrLoading;
  }
  $("photos").addEventListener("change", async () => {
    const box = $("photo-place");
    box.hidden = true;
    const file = $("photos").files[0];
    if (!file) return;
    try {
      const gps = await (await loadExifr()).gps(file);
      if (!gps || !Number.isFinite(gps.latitude) || !Number.isFinite(gps.longitude)) return;
      const button = $("use-photo-place");
      button.textContent = `${msg("PhotoPlace")} (${gps.latitude.toFixed(5)}, ${gps.longitude.toFixed(5)})`;
      button.onclick = () => {
        if (map) map.setView([gps.latitude, gps.longitude], 17);
        setPoint(gps.latitude, gps.longitude);
      };
      box.hidden = false;
    } catch (err) { /* no position in the photo, or no reader offline: nothing to offer */ }
  });

  window.addEventListener("online", sendQueued);
  sendQueued();
  // The installable app: the shell and the last viewed area are kept for a visit without a connection.
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});
})();
