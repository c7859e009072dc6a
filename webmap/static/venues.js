// "Near me" on the venue search: fills the hidden coordinates from the browser and submits.
(function () {
  "use strict";
  const button = document.getElementById("near-me");
  if (!button) return;
  const status = document.getElementById("near-me-status");
  button.addEventListener("click", () => {
    if (!navigator.geolocation) { status.textContent = "—"; return; }
    navigator.geolocation.getCurrentPosition((pos) => {
      document.getElementById("lat").value = pos.coords.latitude.toFixed(6);
      document.getElementById("lon").value = pos.coords.longitude.toFixed(6);
      document.getElementById("place").value = "";
      document.getElementById("venue-search").submit();
    }, (err) => { status.textContent = err.message; });
  });
  // After a search, move focus to the results so a screen reader reads them first.
  const results = document.getElementById("results-title");
  if (results) results.focus();
})();
