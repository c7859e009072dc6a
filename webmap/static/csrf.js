// The CSRF token for the public forms, asked for when a form is first sent rather than put in the
// page: a visitor who only looks gets no session cookie, so the page can be cached
// (webmap/security.py). Shared by report.js and speedtest.js.
window.hromadaCsrfToken = (function () {
  "use strict";
  let token = null;
  return async function () {
    if (!token) {
      const response = await fetch("/api/csrf-token", {headers: {"Accept": "application/json"}, cache: "no-store"});
      token = (await response.json()).csrf_token;
    }
    return token;
  };
})();
