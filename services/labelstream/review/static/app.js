// labelstream review page: one record at a time, keyboard first. Talks to /api/v1 with the reviewer's token.
"use strict";

const EMPTY_RETRY_MS = 4000;
const HELD_RETRY_MS = 30000;  // a hold lasts until the lead clears it or days pass: no need to ask often
const STATS_EVERY_MS = 10000;
// A page left open keeps its record only while someone is there: after this long without a key or a click the
// heartbeats stop, the lease runs out and the record goes back to the queue for the others.
const AWAY_MS = 10 * 60 * 1000;
const OFFLINE_PROBE_MS = 3000;  // while the service does not answer: how often the page asks again

const state = {
  token: null,
  item: null,
  labels: [],
  busy: false,
  undoUntil: 0,
  heartbeatTimer: null,
  emptyTimer: null,
  leaseTimer: null,
  today: null,
  recent: { rows: [], sel: 0, next: null, loading: false },
  lastActivity: Date.now(),
  settleUntil: 0,
  offline: false,  // the service did not answer (or answered 503): said on screen until it answers again
  offlineTimer: null,
  lostAction: false,  // a key pressed while offline: not saved, the reviewer is told to press it again
  focusBeforeHelp: null,
  signedIn: false,  // signIn went through (me, labels, guidelines)
};

// -- talking to the API -------------------------------------------------------------------------

async function api(method, path, body) {
  try {
    const data = await callApi(state.token, method, path, body);
    if (state.offline) backOnline();
    return data;
  } catch (err) {
    if (err.status === 401) signOut(err.message || "sign in again");
    else if (err.status === 0 || err.status === 503) goOffline(err);
    throw err;
  }
}

// The service stopped, restarts, or has no Redis (503): nothing pressed now is saved. Say so for as long as it lasts
// (not for two seconds), ask again every few seconds, and say when it answers again.
function goOffline(err) {
  if (!state.offline) {
    state.offline = true;
    state.offlineTimer = setInterval(() => {
      if (!state.token) return;
      // back: a sign-in the outage broke starts now (a record on screen waits for the reviewer's key)
      api("GET", "me").then(() => { if (!state.signedIn) signIn(state.token); }, () => {});
    }, OFFLINE_PROBE_MS);
  }
  const why = err.status === 0 ? "the review service does not answer" : err.message;
  say(`${why}: nothing is saved until it does · ${state.item ? "your record stays here · " : ""}checking every few seconds`, "warn", 0);
}

async function backOnline() {
  state.offline = false;
  clearInterval(state.offlineTimer);
  const lost = state.lostAction ? " · your last key was not saved: press it again" : "";
  state.lostAction = false;
  const item = state.item;
  if (item && Date.now() / 1000 > item.lease_expires_at) {  // its hold ended meanwhile: claim it afresh now, so
    await next();                                            // that the key pressed again counts
    if (state.item && state.item.id !== item.id) {
      say(`the review service answers again · ${item.id} went back to the queue meanwhile: here is the next record`, "warn");
      return;
    }
  }
  say(`the review service answers again${lost}`, "info", 5000);
}

// An error for the reviewer: a 401 signs out and the service being away is said already (goOffline); `key`: it
// lost what the reviewer pressed (an answer, a skip...), which they are asked to press again once it is back.
function complain(err, prefix = "", key = false) {
  if (err.status === 0 || err.status === 503) { if (key) state.lostAction = true; return; }
  if (err.status !== 401) say(prefix + err.message, "warn");
}

// A 409 on the record on screen: it is no longer held for this reviewer (the lease ran out while the page could
// not reach the service, or the lead took it back). Say what happened to the key, in a reviewer's words.
async function lostHold(item, what) {
  await next();
  const back = state.item && state.item.id === item.id;
  say(`${what}${item.id} was no longer held for you ${back ? "· it is yours again: answer it again" : "and went back to the queue · here is the next record"}`, "warn", 6000);
}

// -- sign in / out -----------------------------------------------------------------------------------

function show(section) {
  for (const id of ["login", "empty", "held", "workspace"]) $(id).hidden = id !== section;
}

// Hand the record back when the reviewer leaves (page closed, reloaded, signed out): it returns to the
// queue now instead of when its lease ends. keepalive lets the request outlive the page.
function releaseHeld() {
  if (!state.token || !state.item) return;
  const body = JSON.stringify({ id: state.item.id, lease: state.item.lease });
  state.item = null;
  fetch("api/v1/release", {
    method: "POST", keepalive: true, body,
    headers: { Authorization: `Bearer ${state.token}`, "Content-Type": "application/json" },
  }).catch(() => {});
}

function signOut(message) {
  releaseHeld();
  localStorage.removeItem(TOKEN_KEY);
  state.token = null;
  state.item = null;
  state.signedIn = false;
  if (state.offline) $("status").className = "status";  // its "does not answer" concerned the reviewer signed out
  state.offline = false;
  clearInterval(state.offlineTimer);
  stopTimers();
  $("reviewer").textContent = "";
  $("admin-link").hidden = true;
  $("login-error").textContent = message || "";
  document.body.classList.add("signed-out");
  show("login");
  $("token-input").focus();
}

async function signIn(token) {
  state.token = token;
  try {
    const me = await api("GET", "me");
    localStorage.setItem(TOKEN_KEY, token);
    $("reviewer").textContent = me.reviewer;
    $("admin-link").hidden = me.role !== "admin";  // the lead's view, for admins only (the API refuses the others)
    $("login-error").textContent = "";
    const [labels, guidelines] = await Promise.all([api("GET", "labels"), api("GET", "guidelines")]);
    state.labels = labels.labels;
    $("guidelines-body").innerHTML = guidelines.html;  // rendered by the server without raw HTML
    if (!guidelines.configured) $("toggle-guidelines").classList.add("muted");
    state.signedIn = true;
    document.body.classList.remove("signed-out");
    refreshStats();
    await next();
  } catch (err) {
    complain(err);
  }
}

// -- the work loop -----------------------------------------------------------------------------------

function stopTimers() {
  clearInterval(state.heartbeatTimer);
  clearTimeout(state.emptyTimer);
  clearInterval(state.leaseTimer);
}

async function next() {
  stopTimers();
  state.item = null;
  let data;
  try {
    data = await api("POST", "claim");
  } catch (err) {
    if (err.status === 403) {  // held for low gold accuracy (review.gold_hold_below): the why stays on the page
      $("held-why").textContent = err.message.charAt(0).toUpperCase() + err.message.slice(1);
      show("held");
      state.emptyTimer = setTimeout(next, HELD_RETRY_MS);
    } else if (err.status !== 401) { complain(err); state.emptyTimer = setTimeout(next, EMPTY_RETRY_MS); }
    return;
  }
  if (!data) {
    show("empty");
    state.emptyTimer = setTimeout(next, EMPTY_RETRY_MS);
    return;
  }
  showItem(data.item);
}

function showItem(item) {
  stopTimers();
  state.item = item;
  if (item.labels && item.labels.length) state.labels = item.labels;
  show("workspace");
  renderRecord(item);
  renderProposal(item);
  renderLabels(item);
  $("note").value = "";
  $("label-filter").value = "";
  const beat = Math.max(2000, (item.lease_seconds * 1000) / 3);
  state.heartbeatTimer = setInterval(heartbeat, beat);
  state.leaseTimer = setInterval(renderLease, 1000);
  renderLease();
  renderUndo();
}

function renderRecord(item) {
  const record = item.record || {};
  $("record-title").textContent = item.id;
  const reason = $("reason");  // in a reviewer's words (cold_start reads "calibrating"); the explanation on hover and in ?
  reason.textContent = item.reason_title || (item.reason || "").replace("_", " ");
  reason.title = item.reason_help || "";
  reason.className = `badge reason-${item.reason}`;
  $("help-reason").hidden = !item.reason_help;
  $("help-reason-title").textContent = reason.textContent;
  $("help-reason-text").textContent = item.reason_help || "";
  $("overlap").hidden = !item.overlap;
  $("expert").hidden = !item.expert;
  $("no-expert").hidden = !item.no_expert;
  const meta = [];
  if (item.requested_at) meta.push(`requested ${ago(item.requested_at)}`);
  if (item.model_version) meta.push(`model v${item.model_version}`);
  if (record.source) meta.push(`source ${record.source}`);
  $("record-meta").textContent = meta.join(" · ");
  const notes = $("skip-notes");
  notes.replaceChildren();
  for (const n of item.skip_notes || []) {
    const li = document.createElement("li");
    const who = document.createElement("strong");
    who.textContent = `${n.reviewer} ${n.unsure ? "was not sure" : "skipped it"}`;
    li.append(who, n.unsure && n.note === "not sure" ? "" : `: ${n.note}`);  // "not sure": what the queue writes when no note came
    notes.append(li);
  }
  notes.hidden = !(item.skip_notes || []).length;
  const text = $("record-text");
  text.hidden = !record.text;
  text.textContent = record.text || "";
  const rows = $("features");
  rows.replaceChildren();
  for (const [name, value] of Object.entries(record.features || {})) {
    const tr = document.createElement("tr");
    const key = document.createElement("td");
    key.textContent = name;
    const val = document.createElement("td");
    val.textContent = typeof value === "number" ? formatNumber(value) : String(value);
    tr.append(key, val);
    rows.append(tr);
  }
}

function renderProposal(item) {
  const proposed = $("proposed");
  const probs = Object.entries(item.probabilities || {}).sort((a, b) => b[1] - a[1]);
  proposed.replaceChildren();
  if (item.proposed_label) {
    proposed.append(item.proposed_label);
    const pct = document.createElement("span");
    pct.className = "pct";
    pct.textContent = percent(item.probabilities[item.proposed_label]);
    proposed.append(pct);
  } else {
    proposed.textContent = "no proposal yet";
  }
  const list = $("probabilities");
  list.replaceChildren();
  probs.slice(0, 8).forEach(([name, p], i) => {
    const li = document.createElement("li");
    if (i === 0) li.className = "top";
    const label = document.createElement("span");
    label.className = "name";
    label.textContent = name;
    const track = document.createElement("span");
    track.className = "track";
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.width = `${Math.round(p * 100)}%`;
    fill.style.display = "block";
    track.append(fill);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = percent(p);
    li.append(label, track, value);
    list.append(li);
  });
}

function renderLabels(item) {
  const box = $("labels");
  box.replaceChildren();
  const filter = $("label-filter").value.trim().toLowerCase();
  $("filter-row").hidden = state.labels.length <= 9;
  if (!state.labels.length) {
    const hint = document.createElement("p");
    hint.className = "muted";
    hint.textContent = "No label set yet: an admin adds labels with `labelstream labels add NAME`.";
    box.append(hint);
  }
  visibleLabels(filter).forEach((name, i) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "label-button";
    if (item && name === item.proposed_label) button.classList.add("proposed-label");
    button.dataset.label = name;
    const span = document.createElement("span");
    span.className = "name";
    span.textContent = name;
    if (i < 9) {
      const key = document.createElement("kbd");
      key.textContent = String(i + 1);
      button.setAttribute("aria-keyshortcuts", String(i + 1));
      button.append(key);
    }
    button.append(span);
    button.addEventListener("click", () => answer(name));
    box.append(button);
  });
}

function visibleLabels(filter) {
  return filter ? state.labels.filter((l) => l.toLowerCase().includes(filter)) : state.labels;
}

async function answer(label) {
  if (Date.now() < state.settleUntil) return;
  if (!$("recent").hidden) { correctRecent(label); return; }  // the recent answers are open: labels correct the chosen one
  if (!state.item || state.busy) return;
  state.busy = true;
  const item = state.item;
  const button = document.querySelector(`.label-button[data-label="${CSS.escape(label)}"]`);
  if (button) button.classList.add("flash");
  const note = $("note").value.trim();
  try {
    const result = await api("POST", "answer", { id: item.id, lease: item.lease, label, ...(note ? { note } : {}) });
    state.undoUntil = Date.now() + result.undo_seconds * 1000;
    bumpToday(1);
    say(`${item.id} → ${label} · saved${result.undo_seconds ? " · u undoes it" : ""}`);
    await next();
    refreshStats();
  } catch (err) {
    if (button) button.classList.remove("flash");  // not saved: the label must not look chosen
    if (err.status === 409) await lostHold(item, `not saved: `);
    else complain(err, "", true);
  } finally {
    state.busy = false;
    renderUndo();
  }
}

// Hand the record on unanswered, the note with it: a skip (to the other reviewers) or "not sure" (to the experts).
async function handOn(path, told, ms) {
  if (!state.item || state.busy || Date.now() < state.settleUntil) return;
  state.busy = true;
  const item = state.item;
  const note = $("note").value.trim();
  try {
    const result = await api("POST", path, { id: item.id, lease: item.lease, ...(note ? { note } : {}) });
    say(told(item, note, result), "info", ms);
    await next();
    refreshStats();
  } catch (err) {
    if (err.status === 409) await lostHold(item, path === "skip" ? "not skipped: " : "not sent to an expert: ");
    else complain(err, "", true);
  } finally {
    state.busy = false;
  }
}

const skip = () => handOn("skip", (item, note) =>
  note ? `${item.id} skipped · the next reviewer sees your note` : `${item.id} skipped · it goes to the others`);

// Not sure: the record goes to the experts (never back to this reviewer).
// No count of the experts' line: a gold item marked unsure does not join it (docs/review.md, Tells left).
const unsure = () => handOn("unsure", (item, note) =>
  `${item.id} goes to an expert${note ? " with your note" : ""}`, 4000);

async function undo() {
  if (state.busy || !state.token) return;
  state.busy = true;
  try {
    const result = await api("POST", "undo");
    state.undoUntil = 0;
    bumpToday(-1);
    showItem(result.item);
    $("note").value = result.withdrawn_note || "";
    const was = document.querySelector(`.label-button[data-label="${CSS.escape(result.withdrawn_label)}"]`);
    if (was) was.classList.add("was-answer");
    say(`${result.item.id}: your answer ${result.withdrawn_label} withdrawn · answer it again`);
    if (!$("recent").hidden) loadRecent();
  } catch (err) {
    complain(err, "", true);
  } finally {
    state.busy = false;
    renderUndo();
  }
}

function away() { return Date.now() - state.lastActivity > AWAY_MS; }

// A key or a click: the reviewer is here. Back after being away long enough for the lease to end, they get a fresh
// claim (the next record, or this one again if nobody took it) instead of an answer refused with a 409.
function activity(event) {
  const wasAway = away() && state.item && Date.now() / 1000 > state.item.lease_expires_at;
  state.lastActivity = Date.now();
  if (!wasAway) return false;
  if (event) event.preventDefault();
  state.settleUntil = Date.now() + 1500;  // the click that woke the page must not answer the record that comes next
  say("you were away: your record went back to the queue, here is the next one", "warn", 5000);
  next();
  return true;
}

async function heartbeat() {
  const item = state.item;
  if (!item) return;
  if (away()) { renderLease(); return; }  // nobody here: let the lease run out
  if (state.offline) return;  // the probe asks meanwhile; once back, backOnline claims afresh if the lease ended
  try {
    const result = await api("POST", "heartbeat", { id: item.id, lease: item.lease });
    if (state.item === item) item.lease_expires_at = result.lease_expires_at;
  } catch (err) {
    if (err.status === 409 && state.item === item) await lostHold(item, "");
  }
}

// -- counters ----------------------------------------------------------------------------------------

async function refreshStats() {
  if (!state.token) return;
  try {
    const stats = await api("GET", "stats");
    state.today = stats.me.answered_today;
    $("count-today").textContent = String(state.today);
    // rounded down above a size (review.queue_counter_*): "40+" reads "at least 40"
    $("queue-depth").textContent = `${stats.queue.waiting}${stats.queue.waiting_rounded ? "+" : ""}`;
    const spi = stats.me.seconds_per_answer;
    $("seconds-per-item").textContent = spi == null ? "–" : spi < 10 ? spi.toFixed(1) : Math.round(spi);
  } catch (err) { /* shown on the next action */ }
}

function bumpToday(delta) {
  if (state.today == null) return;
  state.today = Math.max(0, state.today + delta);
  $("count-today").textContent = String(state.today);
}

function renderLease() {
  const item = state.item;
  if (!item) return;
  const left = Math.max(0, Math.round(item.lease_expires_at - Date.now() / 1000));
  const span = left < 60 ? `${left} s` : `${Math.round(left / 60)} min`;
  if (away()) $("lease").textContent = left ? `away? back to the queue in ${span}` : "away? it went back to the queue";
  else $("lease").textContent = left ? `held for you ${span}` : "no longer held for you";
  renderUndo();
}

function renderUndo() {
  $("undo").disabled = Date.now() > state.undoUntil;
}

// -- formatting ----------------------------------------------------------------------------------------

function percent(p) { return p == null ? "" : `${Math.round(p * 100)}%`; }
function formatNumber(x) { return Number.isInteger(x) ? String(x) : Math.abs(x) >= 1e5 || Math.abs(x) < 1e-3 ? x.toExponential(3) : String(+x.toFixed(4)); }
function ago(epoch) {
  const s = Math.max(0, Date.now() / 1000 - epoch);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

// -- your recent answers: correct one -----------------------------------------------------------------

// The first page of your history (older pages come as you go down the list: loadOlder).
async function loadRecent() {
  try {
    const data = await api("GET", "recent");
    state.recent.rows = data.answers;
    state.recent.next = data.next_cursor;
    state.recent.sel = Math.min(state.recent.sel, Math.max(0, data.answers.length - 1));
    renderRecent();
  } catch (err) { complain(err); }
}

async function loadOlder() {
  if (!state.recent.next || state.recent.loading) return;
  state.recent.loading = true;
  try {
    const data = await api("GET", `recent?cursor=${encodeURIComponent(state.recent.next)}`);
    state.recent.rows = state.recent.rows.concat(data.answers);
    state.recent.next = data.next_cursor;
  } catch (err) {
    if (err.status === 409) { state.recent.sel = 0; await loadRecent(); }  // that answer was undone: start again
    else complain(err);
  } finally {
    state.recent.loading = false;
    renderRecent();
  }
}

function correctable(row) {
  if (row.correctable_until == null || Date.now() / 1000 > row.correctable_until) return [false, "too old to change"];
  return [true, `changeable ${remaining(row.correctable_until - Date.now() / 1000)}`];
}

function renderRecent() {
  const list = $("recent-list");
  list.replaceChildren();
  if (!state.recent.rows.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = "No answers yet today.";
    list.append(li);
    return;
  }
  state.recent.rows.forEach((row, i) => {
    const li = document.createElement("li");
    const [ok, why] = correctable(row);
    li.className = `recent-row${i === state.recent.sel ? " selected" : ""}${ok ? "" : " locked"}`;
    li.setAttribute("aria-selected", String(i === state.recent.sel));
    const id = document.createElement("span");
    id.className = "mono id";
    id.textContent = row.id;
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = row.corrected_from ? `${row.corrected_from} → ${row.label}` : row.label;
    const meta = document.createElement("span");
    meta.className = "small muted meta";
    meta.textContent = `${ago(row.answered_at)} · ${why}${row.overlap ? " · overlap vote" : ""}`;
    li.append(id, label, meta);
    li.addEventListener("click", () => { state.recent.sel = i; renderRecent(); });
    list.append(li);
  });
  if (state.recent.next) {
    const li = document.createElement("li");
    li.className = "recent-more";
    const more = document.createElement("button");
    more.type = "button";
    more.className = "linklike";
    more.textContent = state.recent.loading ? "loading older answers…" : `${state.recent.rows.length} shown · older answers ↓`;
    more.addEventListener("click", loadOlder);
    li.append(more);
    list.append(li);
  }
  const chosen = state.recent.rows[state.recent.sel];
  $("labels-mode").textContent = chosen ? `Labels now correct ${chosen.id} (${chosen.label}) · Esc: back to ${state.item ? state.item.id : "the queue"}` : "";
  const selected = list.querySelector(".selected");
  if (selected) selected.scrollIntoView({ block: "nearest" });
  const more = list.querySelector(".recent-more");  // at the last row loaded: the way to the older ones in view too
  if (more && state.recent.sel === state.recent.rows.length - 1) more.scrollIntoView({ block: "nearest" });
}

function toggleRecent(force) {
  const panel = $("recent");
  const open = force === undefined ? panel.hidden : force;
  panel.hidden = !open;
  if (open) { $("guidelines").hidden = true; state.recent.sel = 0; loadRecent(); }
  $("labels-mode").hidden = !open;
  $("labels").classList.toggle("correcting", open);
  sidePanels();
}

function moveRecent(delta) {
  const n = state.recent.rows.length;
  if (!n) return;
  if (delta > 0 && state.recent.sel >= n - 1 && state.recent.next) {  // past the end of what is loaded: the next page
    if (!state.recent.loading) loadOlder().then(() => { if (state.recent.rows.length > n) moveRecent(delta); });
    return;
  }
  state.recent.sel = Math.max(0, Math.min(n - 1, state.recent.sel + delta));
  renderRecent();
}

async function correctRecent(label) {
  const row = state.recent.rows[state.recent.sel];
  if (!row || state.busy) return;
  const [ok, why] = correctable(row);
  if (!ok) { say(`${row.id}: ${why}`, "warn"); return; }
  if (label === row.label) { say(`${row.id} is already ${label}`); return; }
  state.busy = true;
  try {
    const done = await api("POST", "correct", { answer_id: row.answer_id, label });
    const consensus = { pending: " · your vote counts in its consensus", recomputed: " · its consensus is recomputed" };
    say(`${row.id}: ${row.label} → ${label} · corrected${consensus[done.consensus] || ""}`, "info", 4000);
    // in place, so the older pages loaded stay: the list holds the new answer id (a second correction needs it)
    Object.assign(row, { answer_id: done.answer_id, label, corrected_from: row.corrected_from || row.label });
    renderRecent();
  } catch (err) {
    complain(err, `${row.id}: `, true);
    loadRecent();
  } finally {
    state.busy = false;
  }
}

function remaining(seconds) {
  return seconds < 90 ? `${Math.max(0, Math.round(seconds))} s more` : `${Math.round(seconds / 60)} min more`;
}

// -- keyboard -------------------------------------------------------------------------------------------

function toggleGuidelines() {
  const panel = $("guidelines");
  panel.hidden = !panel.hidden;
  if (!panel.hidden) toggleRecent(false);
  sidePanels();
}

function sidePanels() {
  $("app").classList.toggle("with-side", !$("guidelines").hidden || !$("recent").hidden);
}

// The keys list is a modal dialog: while it is open it has the keyboard (onKey), its close button the focus.
function toggleHelp(force) {
  const help = $("help");
  const open = force === undefined ? help.hidden : force;
  if (open === !help.hidden) return;
  help.hidden = !open;
  if (open) { state.focusBeforeHelp = document.activeElement; $("close-help").focus(); }
  else if (state.focusBeforeHelp && state.focusBeforeHelp !== document.body) { state.focusBeforeHelp.focus(); }
  else { $("close-help").blur(); }
}

function onKey(event) {
  if (activity(event)) return;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (!$("help").hidden) {  // nothing behind the open keys list: a digit read there must not answer the record
    if (event.key === "Escape" || event.key === "?") { event.preventDefault(); toggleHelp(false); }
    else if (event.key === "Tab") event.preventDefault();  // its close button is all there is to focus
    return;
  }
  const target = event.target;
  const typing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement;
  if (event.key === "Escape") {
    toggleHelp(false);
    if (typing) target.blur();
    else if (!$("recent").hidden) toggleRecent(false);
    return;
  }
  if (typing) {
    if (target.id === "label-filter") {
      if (event.key === "Enter") {
        const first = visibleLabels(target.value.trim().toLowerCase())[0];
        if (first) { event.preventDefault(); target.blur(); answer(first); }
      } else {
        setTimeout(() => renderLabels(state.item), 0);
      }
    }
    return;
  }
  if (!state.token) return;
  const key = event.key;
  if (!$("recent").hidden) {  // the recent answers have the keys: digits correct the chosen one, never answer
    if (key === "ArrowDown" || key === "j") { event.preventDefault(); moveRecent(1); return; }
    if (key === "ArrowUp" || key === "k") { event.preventDefault(); moveRecent(-1); return; }
    if (key >= "1" && key <= "9") {
      event.preventDefault();
      const name = state.labels[Number(key) - 1];
      if (name) correctRecent(name);
      return;
    }
  }
  if (key >= "1" && key <= "9") {
    const name = visibleLabels($("label-filter").value.trim().toLowerCase())[Number(key) - 1];
    if (name) { event.preventDefault(); answer(name); }
  } else if (key === "s") { event.preventDefault(); skip(); }
  else if (key === "e") { event.preventDefault(); unsure(); }
  else if (key === "u") { event.preventDefault(); undo(); }
  else if (key === "g") { event.preventDefault(); toggleGuidelines(); }
  else if (key === "r") { event.preventDefault(); toggleRecent(); }
  else if (key === "n") { event.preventDefault(); $("note").focus(); }
  else if (key === "/") { event.preventDefault(); if (!$("filter-row").hidden) $("label-filter").focus(); }
  else if (key === "?") { event.preventDefault(); toggleHelp(); }
}

// -- start ------------------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  document.addEventListener("keydown", onKey);
  document.addEventListener("pointerdown", (event) => { if (activity(event)) event.stopPropagation(); }, true);
  window.addEventListener("pagehide", releaseHeld);
  // back from the browser's page cache: the record was handed back on leaving, so claim again
  window.addEventListener("pageshow", (event) => { if (event.persisted && state.token) next(); });
  $("login-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token-input").value.trim()); });
  $("sign-out").addEventListener("click", () => signOut("signed out"));
  $("skip").addEventListener("click", skip);
  $("unsure").addEventListener("click", unsure);
  $("undo").addEventListener("click", undo);
  $("retry").addEventListener("click", next);
  $("held-retry").addEventListener("click", next);
  $("toggle-guidelines").addEventListener("click", toggleGuidelines);
  $("close-guidelines").addEventListener("click", toggleGuidelines);
  $("toggle-recent").addEventListener("click", () => toggleRecent());
  $("close-recent").addEventListener("click", () => toggleRecent(false));
  $("toggle-help").addEventListener("click", () => toggleHelp());
  $("help").addEventListener("click", () => toggleHelp(false));
  setInterval(refreshStats, STATS_EVERY_MS);
  // On a phone the labels are a bar fixed at the bottom (app.css): keep room for all its rows under the page.
  new ResizeObserver(() => {
    const bar = $("labels");
    $("app").style.paddingBottom = getComputedStyle(bar).position === "fixed" ? `${bar.offsetHeight + 24}px` : "";
  }).observe($("labels"));
  const token = tokenFromLocation() || localStorage.getItem(TOKEN_KEY);
  if (token) signIn(token); else signOut();
});
