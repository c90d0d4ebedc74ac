// labelstream lead view: GET /api/v1/admin/overview drawn as tables, refreshed every few seconds; requeue a held record.
// The HTML carries no data: everything comes from the API with the admin's token (401 without one, 403 for a reviewer).
"use strict";

const REFRESH_MS = 4000;

const state = { token: null, timer: null, updatedAt: 0, busy: false };

function api(method, path, body) { return callApi(state.token, method, path, body); }

function show(section) {
  for (const id of ["login", "refused", "board"]) $(id).hidden = id !== section;
  document.querySelector(".counters").hidden = section !== "board";
  $("updated").hidden = section !== "board";
}

function signOut(message) {
  localStorage.removeItem(TOKEN_KEY);
  state.token = null;
  clearInterval(state.timer);
  $("reviewer").textContent = "";
  $("login-error").textContent = message || "";
  show("login");
  $("token-input").focus();
}

async function signIn(token) {
  state.token = token;
  let me;
  try {
    me = await api("GET", "me");
  } catch (err) {
    if (err.status === 401) signOut(err.message); else say(err.message, "warn");
    return;
  }
  localStorage.setItem(TOKEN_KEY, token);
  $("reviewer").textContent = me.reviewer;
  if (me.role !== "admin") {
    refuse(`${me.reviewer} has the reviewer role: the lead view needs an admin token.`);
    return;
  }
  await refresh();
  clearInterval(state.timer);
  state.timer = setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
}

function refuse(detail) {
  clearInterval(state.timer);
  $("refused-detail").textContent = detail;
  show("refused");
}

// -- the overview -----------------------------------------------------------------------------------------------

async function refresh() {
  let view;
  try {
    view = await api("GET", "admin/overview");
  } catch (err) {
    if (err.status === 401) signOut(err.message);
    else if (err.status === 403) refuse(err.message);
    else {
      // the figures on screen are getting old: say so where the lead looks, not only in the footer, and grey them
      $("updated").textContent = `not updated: ${err.message}`;
      if (state.updatedAt && !$("board").classList.contains("stale")) {
        $("board").classList.add("stale");
        document.querySelector(".counters").classList.add("stale");
        say(`figures from ${new Date(state.updatedAt).toLocaleTimeString()}, not updated since: ${err.message}`, "warn", 0);
      }
    }
    return;
  }
  if ($("board").classList.contains("stale")) {
    for (const el of [$("board"), document.querySelector(".counters")]) el.classList.remove("stale");
    say("updated again");
  }
  state.updatedAt = Date.now();
  show("board");
  render(view);
  $("updated").textContent = `updated ${new Date(state.updatedAt).toLocaleTimeString()} · refreshes every ${REFRESH_MS / 1000} s`;
}

function render(view) {
  const q = view.queue;
  for (const key of ["waiting", "leased", "expert", "expert_timed_out", "consolidating", "unpublished"]) $(`q-${key}`).textContent = String(q[key]);
  $("q-expert_timed_out-box").hidden = !q.expert_timed_out;  // only once some went back to the reviewers
  renderReasons(view);
  renderAgreement(view.agreement);
  renderPeople(view.reviewers, view.held);
  // Dawid-Skene's accuracy estimate exists only under that consolidation: no column of dashes otherwise
  document.querySelector(".people").classList.toggle("no-accuracy", view.agreement.consolidation !== "dawid_skene");
  renderGold(view.gold);
  renderHeld(view.held);
}

function cell(text, className, title) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  if (title) td.title = title;
  return td;
}

function emptyRow(body, columns, text) {
  const tr = document.createElement("tr");
  const td = cell(text, "muted empty-row");
  td.colSpan = columns;
  tr.append(td);
  body.append(tr);
}

function renderReasons(view) {
  const body = $("reasons");
  body.replaceChildren();
  const rows = Object.entries(view.waiting_by_reason).sort((a, b) => b[1].waiting - a[1].waiting);
  if (!rows.length) emptyRow(body, 5, "Nothing is waiting.");
  for (const [reason, row] of rows) {
    const tr = document.createElement("tr");
    tr.dataset.reason = reason;
    const name = cell(row.title || reason, "reason-name", row.help ? `${row.help} (reason: ${reason})` : reason);
    tr.append(name, cell(String(row.waiting), "num"), cell(String(row.skipped), "num"), cell(String(row.with_notes), "num"),
      cell(duration(row.oldest_seconds), "num"));
    body.append(tr);
  }
  $("reasons-note").textContent = view.capped
    ? `By reason: the ${view.counted} best-ranked waiting records (of ${view.queue.waiting}).` : "";
  const legend = $("reasons-legend");
  legend.replaceChildren();
  for (const [reason, row] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = `${row.title || reason} (${reason})`;
    const dd = document.createElement("dd");
    dd.textContent = row.help || "";
    legend.append(dt, dd);
  }
  legend.parentElement.hidden = !rows.length;
}

function renderAgreement(a) {
  $("kappa").textContent = fixed(a.kappa);
  $("alpha").textContent = fixed(a.alpha);
  $("consolidation").textContent = a.consolidation.replace("_", "-");
  const answered = Object.keys(a.consensus_agreement || {}).length > 0;  // overlap records with their consensus
  $("agreement-note").textContent = a.kappa != null || a.alpha != null
    ? "1 = the reviewers always agree, 0 = no more often than chance."
    : answered  // kappa: a pair of reviewers with 10 records in common; both: more than one label among the answers
      ? "Not measurable yet: kappa needs two reviewers with 10 overlap records in common, and kappa and alpha both need more than one label among the answers."
      : "No overlap records answered yet (review.overlap_share sends a share of records to several reviewers).";
}

function renderPeople(reviewers, held = []) {
  // a gold instance's random id says nothing to the lead: name its gold item instead
  const goldHeld = Object.fromEntries(held.filter((h) => h.gold).map((h) => [h.id, `gold item ${h.gold}`]));
  const body = $("people");
  body.replaceChildren();
  const names = Object.keys(reviewers);
  if (!names.length) emptyRow(body, 7, "Nobody has answered, skipped or claimed a record today.");
  for (const name of names) {
    const day = reviewers[name];
    const tr = document.createElement("tr");
    tr.dataset.reviewer = name;
    const spa = day.seconds_per_answer;
    const skips = cell(String(day.skipped_today), "num");
    if (day.unsure_today) {  // "5 · 2 not sure"; a narrow window breaks it before the "·" only
      const unsure = document.createElement("span");
      unsure.className = "nowrap";
      unsure.textContent = `· ${day.unsure_today} not sure`;
      skips.append(" ", unsure);
    }
    tr.append(cell(name, "name"), cell(String(day.answered_today), "num"), skips,
      cell(spa == null ? "–" : spa < 10 ? spa.toFixed(1) : String(Math.round(spa)), "num"),
      cell(pct(day.consensus_agreement), "num"), cell(pct(day.accuracy_estimate), "num"),
      cell(goldHeld[day.holding] || day.holding || "–", "mono id"));
    body.append(tr);
  }
}

function renderGold(gold) {
  const section = document.querySelector(".gold");
  section.hidden = !gold;
  if (!gold) return;
  $("gold-count").textContent = String(gold.count);
  $("gold-share").textContent = pct(gold.share);
  $("gold-pending").textContent = String(gold.pending);
  $("gold-note").textContent = !gold.count
    ? "No gold items yet: labelstream review gold add FILE uploads records of known label."
    : !gold.share ? "Not served: review.gold_share is 0." : "";
  renderGoldUsedUp(gold);
  const body = $("gold");
  body.replaceChildren();
  const names = Object.keys(gold.reviewers);
  $("gold-recent-head").textContent = `last ${gold.recent_days} days`;
  if (!names.length) emptyRow(body, 6, "No final answer to a gold item yet.");
  const interval = (f) => (f.low == null ? "–" : `${Math.round(f.low * 100)}–${Math.round(f.high * 100)} %`);
  for (const name of names) {
    const r = gold.reviewers[name];
    const tr = document.createElement("tr");
    tr.dataset.reviewer = name;
    const recent = cell(r.recent ? `${pct(r.recent.accuracy)} of ${r.recent.answers}` : "–", "num recent");
    if (r.recent) {  // its interval under it: the column stays narrow on a phone
      const range = document.createElement("span");
      range.className = "small muted range";
      range.textContent = interval(r.recent);
      recent.append(range);
    }
    tr.append(holdCell(name, r, gold), cell(String(r.answers), "num"), cell(String(r.right), "num"),
      cell(pct(r.accuracy), "num"), cell(interval(r), "num"), recent);
    body.append(tr);
  }
  renderGoldToCheck(gold);
}

// A command to type, set in code.
function command(text) {
  const element = document.createElement("code");
  element.textContent = text;
  return element;
}

// Reviewers served every gold item get none more while they answer real ones: the pool's gold answers then
// lean to the others (docs/contract.md section 5). The lead's fix is more gold items.
function renderGoldUsedUp(gold) {
  const note = $("gold-used-up");
  note.hidden = !gold.none_left;
  if (!gold.none_left) return;
  const names = Object.keys(gold.reviewers).filter((name) => gold.reviewers[name].gold_left === 0);
  const one = names.length === 1;
  note.replaceChildren(`None left: ${names.join(", ")} ${one ? "was" : "were"} served every gold item and ` +
    `${one ? "gets" : "get"} no more while answering real records, so the gold accuracy leans to the others. ` +
    "Upload more gold items (",
    command("labelstream review gold add FILE"), ").");
}

// A reviewer's name, and when review.gold_hold_below holds them off new items, "held" and a button that clears it.
function holdCell(name, r, gold) {
  const td = cell(name, "name");
  if (gold.share > 0 && r.gold_left === 0) {
    const badge = document.createElement("span");
    badge.className = "used-up-badge";
    badge.textContent = "no gold left";
    badge.title = `${name} was served all ${gold.count} gold items: none more until more are uploaded`;
    td.append(" ", badge);
  }
  if (r.held) {
    const badge = document.createElement("span");
    badge.className = "held-badge";
    badge.textContent = "held";
    badge.title = `No new items: over the last 7 days at least ${gold.hold_min_answers} gold answers and accuracy ` +
      `under ${pct(gold.hold_below)} with 95 % confidence (review.gold_hold_below)`;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "requeue clear-hold";
    button.textContent = "Clear hold";
    button.title = `Let ${name} take items again; only gold answers given from now on can hold them again (7 days)`;
    button.addEventListener("click", () => clearHold(name));
    td.append(" ", badge, " ", button);
  } else if (r.cleared_until) {
    const note = document.createElement("span");
    note.className = "small muted range";
    note.textContent = `cleared until ${new Date(r.cleared_until * 1000).toLocaleDateString()}`;
    td.append(note);
  }
  return td;
}

async function clearHold(name) {
  if (state.busy) return;
  state.busy = true;
  try {
    await api("POST", `admin/gold/reviewers/${encodeURIComponent(name)}/clear`);
    say(`${name}: hold cleared, taking items again`);
  } catch (err) {
    if (err.status === 401) signOut(err.message); else say(`${name}: ${err.message}`, "warn");
  } finally {
    state.busy = false;
    refresh();
  }
}

// Gold items most reviewers answered otherwise (check_label): their known label may be wrong. Shown only when some are.
function renderGoldToCheck(gold) {
  const suspects = (gold.items || []).filter((item) => item.check_label);
  $("gold-check").hidden = !suspects.length;
  $("gold-check-why").replaceChildren(`Most reviewers answered these otherwise (at least ${gold.suspect_min_answers} ` +
    `answers, under ${pct(gold.suspect_below)} right): the known label may be wrong. Fix it by uploading the item ` +
    "again with the right label (", command("labelstream review gold add FILE"), "), or remove it (",
    command("labelstream review gold remove ID"), ").");
  const list = $("gold-check-list");
  list.replaceChildren();
  for (const item of suspects) {
    const li = document.createElement("li");
    li.dataset.gold = item.id;
    const id = document.createElement("code");
    id.textContent = item.id;
    const known = document.createElement("strong");
    known.textContent = item.label;
    li.append(id, ": known label ", known, `, ${item.right} of ${item.answers} answers right (${pct(item.share_right)})`);
    if (item.top_wrong) {
      const wrong = document.createElement("strong");
      wrong.textContent = item.top_wrong;
      li.append("; most answered ", wrong, ` (${item.top_wrong_answers})`);
    }
    list.append(li);
  }
}

function renderHeld(held) {
  const body = $("held");
  body.replaceChildren();
  if (!held.length) emptyRow(body, 4, "No record is held.");
  for (const h of held.slice().sort((a, b) => b.held_seconds - a.held_seconds)) {
    const tr = document.createElement("tr");
    tr.dataset.id = h.id;
    const action = document.createElement("td");
    action.className = "action";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "requeue";
    button.textContent = "Requeue";
    button.title = h.gold ? `End this gold item for ${h.reviewer} (a gold item handed back goes to nobody else)`
      : `Take ${h.id} back from ${h.reviewer} into the queue now`;
    button.addEventListener("click", () => requeue(h.id, h.reviewer));
    action.append(button);
    const id = cell(h.id, "mono id");
    if (h.gold) {  // a gold instance under its random id: say which gold item it is (the lead's view only)
      const note = document.createElement("span");
      note.className = "small muted range";
      note.textContent = `gold item ${h.gold}${h.shown && h.shown !== h.id ? ` · shown as ${h.shown}` : ""}`;
      id.append(note);
    }
    tr.append(id, cell(h.reviewer), cell(duration(h.held_seconds), "num"), action);
    body.append(tr);
  }
}

async function requeue(id, reviewer) {
  if (state.busy) return;
  state.busy = true;
  try {
    const result = await api("POST", "admin/requeue", { ids: [id] });
    say(result.requeued ? `${id}: taken back from ${reviewer}, waiting again` : `${id}: no longer held (answered or returned)`);
  } catch (err) {
    if (err.status === 401) signOut(err.message); else say(`${id}: ${err.message}`, "warn");
  } finally {
    state.busy = false;
    refresh();
  }
}

// -- formatting -------------------------------------------------------------------------------------------------

function fixed(x) { return x == null ? "–" : x.toFixed(2); }
function pct(x) { return x == null ? "–" : `${Math.round(x * 100)} %`; }
function duration(s) {
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token-input").value.trim()); });
  $("sign-out").addEventListener("click", () => signOut("signed out"));
  $("refused-sign-out").addEventListener("click", () => signOut(""));
  document.addEventListener("visibilitychange", () => { if (!document.hidden && state.token && !$("board").hidden) refresh(); });
  const token = tokenFromLocation() || localStorage.getItem(TOKEN_KEY);
  if (token) signIn(token); else signOut();
});
