// Incidents: the open ones first (down, slow, SLO burning, high traffic), then those
// resolved in the selected range, each with how its notifications went.

import { el, fmtNum, fmtTime, debounced } from "../dom.js";

const KIND = { down: "down", latency: "slow", slo_burn: "SLO burn", traffic: "traffic" };
const UNIT = { latency: " ms", slo_burn: "x", traffic: " hits/s" };

// Failed checks for a site down; the worst value seen for the others.
function measure(i) {
  return i.kind === "down" ? String(i.failures) : fmtNum(i.peak) + (UNIT[i.kind] || "");
}

function deliveries(notified) {
  if (!notified.length) return "–";
  const counts = {};
  for (const n of notified) counts[n.state] = (counts[n.state] || 0) + 1;
  return Object.entries(counts).map(([state, n]) => `${n} ${state}`).join(", ");
}

export default function mount(element, ctx) {
  const badge = el("p", { id: "incidents-open", class: "muted" });
  const table = el("table", { id: "incident-list" });
  table.append(
    el("thead", {}, el("tr", {},
      el("th", {}, "state"), el("th", {}, "kind"), el("th", {}, "alert"), el("th", {}, "URL / source"),
      el("th", {}, "started"), el("th", {}, "resolved"), el("th", { class: "num" }, "failures / peak"),
      el("th", {}, "last error"), el("th", {}, "notifications"))),
    el("tbody"),
  );
  element.append(el("div", { class: "card" }, badge, table));

  function row(i) {
    const open = i.state === "open";
    const failed = i.notified.some((n) => n.state === "failed");
    return el("tr", { "data-id": i.id, "data-state": i.state, "data-kind": i.kind, class: open ? "alert-open" : "" },
      el("td", { class: open ? "bad" : "ok", "data-field": "state" }, open ? "OPEN" : "resolved"),
      el("td", { "data-field": "kind" }, (KIND[i.kind] || i.kind)
        + (i.kind === "slo_burn" ? ` (${i.severity})` : "") + (i.maintenance ? " (maintenance)" : "")),
      el("td", { "data-field": "alert" }, i.alert),
      el("td", { "data-field": "url" }, i.url ?? i.source ?? "–"),
      el("td", { "data-field": "started_at" }, fmtTime(i.started_at)),
      el("td", { "data-field": "resolved_at" }, open ? "–" : fmtTime(i.resolved_at)),
      el("td", { class: "num", "data-field": "failures" }, measure(i)),
      el("td", { "data-field": "last_error" }, i.last_error ?? ""),
      el("td", { class: failed ? "bad" : "", "data-field": "notified" }, deliveries(i.notified)));
  }

  async function refresh() {
    const { incidents } = await ctx.api("/api/incidents", { since: ctx.range() });
    const open = incidents.filter((i) => i.state === "open");
    const past = incidents.filter((i) => i.state !== "open").reverse();
    const body = table.tBodies[0];
    body.replaceChildren(...open.map(row), ...past.map(row));
    if (!incidents.length) body.append(el("tr", {}, el("td", { colSpan: 9, class: "muted" }, "No incident in this range (wm alert).")));
    badge.dataset.open = open.length;
    badge.className = open.length ? "bad" : "muted";
    badge.textContent = open.length ? `${open.length} incident(s) open` : "No incident open";
  }

  return { refresh, on: { incidents: debounced(refresh, ctx) } };
}
