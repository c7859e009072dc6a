// Hromada GIS service worker (served by webmap/app_shell.py; the lists below are filled in there).
// Pages: the network first, the copy kept on the last visit when there is none. Our static files:
// the cache first (their addresses change with their content). Layer data and tiles of the map: the
// network first, the last answer for that address offline. Writes (POST…) and other sites: untouched.
"use strict";
const SHELL_FILES = {{ shell | tojson }};
// A new version of any shell file (its ?v= changes) is a new cache; the old one is deleted on activation.
const SHELL = "shell-" + SHELL_FILES.map((u) => u.split("v=")[1] || "").join("-");
const PAGES = "pages-v1", DATA = "data-v1";
const KEPT_ENTRIES = 400;  // per cache: the last viewed area and a little more; older answers go first
// Pages that carry a secret or a person's data are never kept.
const PRIVATE = /^\/(staff|console|admin|accounts|operator|unit|mail)\b|[?&]token=/;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll([...SHELL_FILES, {{ start | tojson }}]))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys().then((names) => Promise.all(
    names.filter((name) => ![SHELL, PAGES, DATA].includes(name)).map((name) => caches.delete(name))))
    .then(() => self.clients.claim()));
});

async function trim(cache) {
  const keys = await cache.keys();
  for (const request of keys.slice(0, Math.max(0, keys.length - KEPT_ENTRIES))) await cache.delete(request);
}

async function networkFirst(request, cacheName, fallback) {
  try {
    const response = await fetch(request);
    if (response.ok) {
      const cache = await caches.open(cacheName);
      await cache.put(request, response.clone());
      trim(cache);
    }
    return response;
  } catch (err) {
    const kept = await caches.match(request) || (fallback && await caches.match(fallback));
    return kept || Response.error();
  }
}

async function cacheFirst(request) {
  const kept = await caches.match(request);
  if (kept) return kept;
  const response = await fetch(request);
  if (response.ok) (await caches.open(SHELL)).put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || PRIVATE.test(url.pathname + url.search)) return;
  if (request.mode === "navigate") {
    event.respondWith(networkFirst(request, PAGES, {{ start | tojson }}));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(cacheFirst(request));
  } else if (url.pathname.startsWith("/api/map/") || url.pathname.startsWith("/tiles/")) {
    event.respondWith(networkFirst(request, DATA));
  }
});
