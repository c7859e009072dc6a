// The resident's speed measurement form on the coverage page: sends it to /api/speed-tests.
(function () {
  "use strict";
  const form = document.getElementById("speed-form");
  if (!form) return;
  const $ = (id) => document.getElementById(id);
  const csrfToken = window.hromadaCsrfToken;  // csrf.js
  const lang = document.documentElement.lang || "uk";
  const errorBox = $("speed-error");

  $("speed-locate").addEventListener("click", () => {
    if (!navigator.geolocation) return;
    navigator.geolocation.getCurrentPosition((pos) => {
      $("speed-lat").value = pos.coords.latitude.toFixed(6);
      $("speed-lon").value = pos.coords.longitude.toFixed(6);
    }, (err) => { errorBox.textContent = err.message; });
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.textContent = "";
    const button = $("speed-submit");
    button.disabled = true;
    try {
      const body = new FormData(form);
      // Decimal commas are what people type here: 7,5 Мбіт/с.
      for (const name of ["lat", "lon", "down_mbps", "up_mbps"]) body.set(name, String(body.get(name)).replace(",", "."));
      const response = await fetch("/api/speed-tests", {method: "POST", body,
        headers: {"X-CSRFToken": await csrfToken(), "Accept": "application/json"}});
      const data = await response.json();
      if (!response.ok) {
        errorBox.textContent = (data.message && (data.message[lang] || data.message.uk)) || response.statusText;
        return;
      }
      const result = $("speed-result");
      result.textContent = form.dataset.msgThanks;
      result.hidden = false;
      form.reset();
      result.focus();
    } catch (err) {
      errorBox.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  });
})();
