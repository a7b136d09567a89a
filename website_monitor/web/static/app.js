// The page: asks the server which sections it has, mounts one panel module per
// section (static/panels/<name>.js) and feeds them live events. No build step.

const state = { token: sessionStorage.getItem("wm-token") || "", panels: [], source: null };
const $ = (id) => document.getElementById(id);

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

class Unauthorized extends Error {}

export async function api(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const v of [].concat(value)) if (v !== "" && v != null) query.append(key, v);
  }
  const url = path + (query.toString() ? "?" + query : "");
  const headers = state.token ? { Authorization: "Bearer " + state.token } : {};
  const response = await fetch(url, { headers });
  if (response.status === 401) {
    $("token-form").hidden = false;
    throw new Unauthorized("this server needs a token");
  }
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

const ctx = {
  api,
  range: () => $("range").value,
  error: showError,
};

function setLive(stateName, text) {
  const badge = $("live-status");
  badge.dataset.state = stateName;
  badge.textContent = text;
}

function connect(events) {
  if (state.source) state.source.close();
  const url = "/api/events" + (state.token ? "?access_token=" + encodeURIComponent(state.token) : "");
  const source = new EventSource(url);
  state.source = source;
  source.addEventListener("hello", () => setLive("live", "live"));
  source.addEventListener("store", (e) => {
    const data = JSON.parse(e.data);
    if (data.ok) { setLive("live", "live"); showError(""); }
    else { setLive("error", "store unavailable"); showError(data.error); }
  });
  for (const name of events) {
    source.addEventListener(name, (e) => {
      const row = JSON.parse(e.data);
      for (const panel of state.panels) panel.on?.[name]?.(row);
    });
  }
  source.onerror = () => setLive("error", "reconnecting…");
}

async function refreshAll() {
  try {
    await Promise.all(state.panels.map((p) => p.refresh()));
    showError("");
  } catch (err) {
    if (!(err instanceof Unauthorized)) showError(String(err.message || err));
  }
}

async function start() {
  let info;
  try {
    info = await api("/api/sections");
  } catch (err) {
    showError(String(err.message || err));
    setLive("error", "offline");
    return;
  }
  const main = $("sections");
  main.replaceChildren();
  state.panels = [];
  for (const section of info.sections) {
    if (!section.panel) continue;
    const element = document.createElement("section");
    element.id = "section-" + section.name;
    element.dataset.section = section.name;
    const title = document.createElement("h2");
    title.textContent = section.title;
    element.append(title);
    main.append(element);
    const module = await import(`./panels/${section.panel}.js`);
    state.panels.push(module.default(element, ctx));
  }
  await refreshAll();
  connect(info.events);
  document.body.dataset.ready = "true";
}

$("range").addEventListener("change", refreshAll);
$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  state.token = $("token").value;
  sessionStorage.setItem("wm-token", state.token);
  $("token-form").hidden = true;
  start();
});

start();
