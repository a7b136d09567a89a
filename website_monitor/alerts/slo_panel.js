// Service level objectives: per SLO the SLI against its objective, the error budget
// left (a bar) and the burn rates over 1 h, 6 h, 1 d and 3 d.

import { el, fmtNum, debounced } from "../dom.js";

const pct = (v, digits = 3) => (v == null ? "–" : (v * 100).toFixed(digits) + " %");

export default function mount(element, ctx) {
  const holder = el("div", { id: "slo-list" });
  const empty = el("p", { class: "muted", id: "slo-empty", hidden: true }, "No [[slo]] in this server's config file.");
  element.append(empty, holder);

  function card(s) {
    const left = s.error_budget_remaining;
    const width = left == null ? 0 : Math.max(0, Math.min(1, left)) * 100;
    const bar = el("div", { class: "budget-bar" },
      el("div", { class: "budget-left" + (left != null && left <= 0 ? " spent" : ""), style: `width: ${width.toFixed(1)}%` }));
    const burns = el("table", { class: "burn-rates" },
      el("thead", {}, el("tr", {}, ...Object.keys(s.burn_rates).map((w) => el("th", { class: "num" }, "burn " + w)))),
      el("tbody", {}, el("tr", {}, ...Object.entries(s.burn_rates).map(([w, v]) =>
        el("td", { class: "num" + (v != null && v >= 1 ? " bad" : ""), "data-window": w }, v == null ? "–" : fmtNum(v) + "x")))));
    return el("div", { class: "card slo-card", "data-name": s.name, "data-sli": s.sli ?? "", "data-budget": left ?? "" },
      el("h3", {}, `${s.name} — objective ${s.objective} % over ${s.window}`),
      el("p", {}, `SLI ${pct(s.sli)} (${s.good} good of ${s.total} checks), error budget left ${pct(left, 1)}`),
      bar, burns);
  }

  async function refresh() {
    const { slos } = await ctx.api("/api/slo");
    empty.hidden = slos.length > 0;
    holder.replaceChildren(...slos.map(card));
  }

  return { refresh, on: { incidents: debounced(refresh, ctx) } };
}
