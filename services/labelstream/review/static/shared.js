// What the review page (app.js) and the lead view (admin.js) share: the API call, the status line, the token in the URL.
// A classic script loaded first (defer keeps the order); its top-level names are the other scripts' too.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "labelstream.review.token";  // one token per browser: an admin signed in on one page is on the other

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

// One /api/v1 call with the token; an error is an ApiError (status 0: the service did not answer).
async function callApi(token, method, path, body) {
  const init = { method, headers: { Authorization: `Bearer ${token}` } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`api/v1/${path}`, init);  // relative: the pages also work behind a proxy at a sub-path
  } catch (err) {
    throw new ApiError(0, "the review service does not answer; retrying");
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data.detail || response.statusText);
  return data;
}

let statusTimer = null;
// The status line (role=status: screen readers hear it too). A warning stays long enough to be read (a refusal that
// names its fix runs to three lines); ms = 0 keeps it until the next one (the service is away).
function say(text, kind = "info", ms) {
  const el = $("status");
  el.textContent = text;
  el.className = `status show ${kind === "warn" ? "warn" : ""}`;
  clearTimeout(statusTimer);
  if (ms === undefined) ms = kind === "warn" ? Math.max(4000, text.length * 60) : 2600;
  if (ms) statusTimer = setTimeout(() => { el.className = "status"; }, ms);
}

function tokenFromLocation() {
  const match = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
  if (!match) return null;
  history.replaceState(null, "", location.pathname + location.search);  // keep the token out of history
  return decodeURIComponent(match[1]);
}
