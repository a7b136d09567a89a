// High-traffic alerts raised by wm tail: the open ones first, then the past ones.

import { el, fmtNum, fmtTime, debounced } from "../dom.js";

export default function mount(element, ctx) {
  const table = el("table", { id: "alert-list" });
  table.append(
    el("thead", {}, el("tr", {},
      el("th", {}, "state"), el("th", {}, "source"), el("th", {}, "started"), el("th", {}, "ended"),
      el("th", { class: "num" }, "peak hits/s"), el("th", { class: "num" }, "threshold"))),
    el("tbody"),
  );
  const badge = el("p", { id: "alerts-open", class: "muted" });
  element.append(el("div", { class: "card" }, badge, table));

  function row(a) {
    const open = a.ended_at == null;
    return el("tr", { "data-id": a.id, "data-state": open ? "open" : "ended", class: open ? "alert-open" : "" },
      el("td", { class: open ? "bad" : "ok", "data-field": "state" }, open ? "OPEN" : "ended"),
      el("td", { "data-field": "source" }, a.source),
      el("td", { "data-field": "started_at" }, fmtTime(a.started_at)),
      el("td", { "data-field": "ended_at" }, open ? "–" : fmtTime(a.ended_at)),
      el("td", { class: "num", "data-field": "peak" }, fmtNum(a.peak)),
      el("td", { class: "num", "data-field": "threshold" }, fmtNum(a.threshold)));
  }

  async function refresh() {
    const { alerts } = await ctx.api("/api/alerts");
    const open = alerts.filter((a) => a.ended_at == null);
    const past = alerts.filter((a) => a.ended_at != null).reverse();
    const body = table.tBodies[0];
    body.replaceChildren(...open.map(row), ...past.map(row));
    if (!alerts.length) body.append(el("tr", {}, el("td", { colSpan: 6, class: "muted" }, "No alert recorded.")));
    badge.dataset.open = open.length;
    badge.className = open.length ? "bad" : "muted";
    badge.textContent = open.length ? `${open.length} alert(s) open` : "No alert open";
  }

  return { refresh, on: { alerts: debounced(refresh, ctx) } };
}
