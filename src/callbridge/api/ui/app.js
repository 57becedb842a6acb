// Callbridge's read-only call view: lists recent calls and shows one call's timeline
// through the same API (and keys) as any client.  The key stays in this tab
// (sessionStorage, or the URL fragment #key=..., which is never sent to the server).
// Every value is rendered as text, never as HTML.
"use strict";

const state = { key: "", selected: null };

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function say(message) { document.getElementById("status").textContent = message || ""; }

function when(iso) { return iso ? new Date(iso).toLocaleString() : ""; }

function clock(iso) {  // a timeline's times: to the millisecond
  if (!iso) return "";
  const at = new Date(iso);
  return `${at.toLocaleTimeString([], { hour12: false })}.${String(at.getMilliseconds()).padStart(3, "0")}`;
}

async function api(path) {
  const response = await fetch(path, { headers: { apikey: state.key } });
  if (!response.ok) {
    let message = `${response.status}`;
    try { message = (await response.json()).error.message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

async function listCalls() {
  say("Loading calls…");
  const page = await (await api("/api/v2/calls?limit=100")).json();
  const body = document.querySelector("#calls tbody");
  body.replaceChildren();
  for (const call of page.calls) {
    const row = el("tr", null, "call");
    row.dataset.sid = call.CallSid;
    for (const value of [when(call.createdAt), call.direction, call.from, call.to]) {
      row.append(el("td", value));
    }
    row.append(el("td", call.status, `status-${call.status}`));
    row.append(el("td", call.duration === null ? "" : `${call.duration} s`));
    row.append(el("td", call.sipCode ?? ""));
    row.append(el("td", call.hangupCause ?? ""));
    row.append(el("td", call.CallSid));
    row.addEventListener("click", () => showCall(call.CallSid));
    body.append(row);
  }
  say(page.calls.length ? "" : "No calls yet for this key.");
  document.body.dataset.loaded = String(page.calls.length);
}

function fact(list, name, value) {
  if (value === null || value === undefined || value === "") return;
  list.append(el("dt", name), el("dd", value));
}

async function showCall(sid) {
  state.selected = sid;
  for (const row of document.querySelectorAll("#calls tbody tr")) {
    row.classList.toggle("selected", row.dataset.sid === sid);
  }
  const call = await (await api(`/api/v2/calls/${encodeURIComponent(sid)}`)).json();
  document.getElementById("detail").hidden = false;
  document.getElementById("detail-title").textContent = `Call ${call.CallSid}`;
  const facts = document.getElementById("detail-facts");
  facts.replaceChildren();
  fact(facts, "From", call.from);
  fact(facts, "To", call.to);
  fact(facts, "Direction", call.direction);
  fact(facts, "Status", call.status);
  fact(facts, "Parent", call.ParentCallSid);
  fact(facts, "Created", when(call.createdAt));
  fact(facts, "Answered", when(call.answeredAt));
  fact(facts, "Ended", when(call.endedAt));
  fact(facts, "Duration", call.duration === null ? "" : `${call.duration} s`);
  fact(facts, "SIP final code", call.sipCode);
  fact(facts, "Ended because", call.hangupCause);
  fact(facts, "Ended by", call.hangupBy);
  fact(facts, "Document", call.url);

  const timeline = document.getElementById("timeline");
  timeline.replaceChildren();
  const eventTimes = new Map();
  for (const event of call.events) {
    eventTimes.set(event.seq, event.at);
    const item = el("li");
    item.append(el("span", clock(event.at), "at"), el("span", event.name, "name"));
    const data = Object.keys(event.data || {}).length ? JSON.stringify(event.data) : "";
    item.append(el("span", data, "data"));
    timeline.append(item);
  }

  const children = document.getElementById("children");
  children.replaceChildren();
  for (const child of call.children) {
    const item = el("li", `${child.to} — ${child.status}${child.sipCode ? ` (${child.sipCode})` : ""}`);
    item.addEventListener("click", () => showCall(child.CallSid));
    children.append(item);
  }
  if (!call.children.length) children.append(el("li", "none"));

  const hooks = document.querySelector("#webhooks tbody");
  hooks.replaceChildren();
  for (const hook of call.webhooks) {
    const row = el("tr");
    const sent = eventTimes.get(hook.seq);
    const after = hook.deliveredAt && sent
      ? `${((new Date(hook.deliveredAt) - new Date(sent)) / 1000).toFixed(3)} s` : "";
    row.append(el("td", hook.event), el("td", hook.url, "wrap"));
    row.append(el("td", hook.status, `status-${hook.status}`), el("td", hook.lastStatusCode ?? ""));
    row.append(el("td", hook.attempts), el("td", clock(hook.deliveredAt)), el("td", after));
    row.append(el("td", hook.lastError ?? "", "wrap"));
    hooks.append(row);
  }

  const recordings = document.getElementById("recordings");
  recordings.replaceChildren();
  for (const recording of call.recordings) {
    const item = el("li", `${recording.duration ?? "?"} s, ${when(recording.createdAt)} `);
    const play = el("button", "Play");
    play.addEventListener("click", async () => {
      const audio = await (await api(recording.link)).blob();
      const player = el("audio");
      player.controls = true;
      player.src = URL.createObjectURL(audio);
      item.replaceChildren(player);
      player.play();
    });
    item.append(play);
    recordings.append(item);
  }
  if (!call.recordings.length) recordings.append(el("li", "none"));
}

async function start(key) {
  state.key = key.trim();
  if (!state.key) { say("Enter the API key you use with the API."); return; }
  sessionStorage.setItem("callbridge-key", state.key);
  try {
    await listCalls();
    const wanted = new URLSearchParams(location.hash.slice(1)).get("call");
    if (wanted) await showCall(wanted);
  } catch (error) {
    say(`Could not load calls: ${error.message}`);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("key");
  const key = fromHash || sessionStorage.getItem("callbridge-key") || "";
  document.getElementById("key").value = key;
  document.getElementById("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    start(document.getElementById("key").value);
  });
  if (key) start(key);
});
