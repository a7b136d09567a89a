// Access-log traffic: per source, hits/s per bucket with the alert threshold and
// the alert periods shaded; per section, hits, 5xx rate and response sizes.

import uPlot from "../vendor/uplot/uPlot.esm.js";
import { el, fmtNum, fmtTime, BUCKET_FOR_RANGE, timeRange, debounced } from "../dom.js";

// Shades [start, end] periods (epoch seconds; end null = still open) behind the series.
function shadePlugin(getPeriods) {
  return {
    hooks: {
      drawClear: (u) => {
        const { ctx } = u;
        const { left, top, width, height } = u.bbox;
        ctx.save();
        ctx.fillStyle = "rgba(220, 38, 38, 0.14)";
        for (const [start, end] of getPeriods()) {
          const x0 = Math.max(left, u.valToPos(start, "x", true));
          const x1 = Math.min(left + width, u.valToPos(end ?? Date.now() / 1000, "x", true));
          if (x1 > x0) ctx.fillRect(x0, top, x1 - x0, height);
        }
        ctx.restore();
      },
    },
  };
}

export default function mount(element, ctx) {
  const sections = el("table", { id: "hit-sections" });
  sections.append(
    el("thead", {}, el("tr", {},
      el("th", {}, "section"), el("th", { class: "num" }, "hits"), el("th", { class: "num" }, "5xx"),
      el("th", { class: "num" }, "5xx rate"), el("th", { class: "num" }, "bytes"),
      el("th", { class: "num" }, "size p50"), el("th", { class: "num" }, "size p95"),
      el("th", { class: "num" }, "size p99"))),
    el("tbody"),
  );
  const charts = el("div", { class: "charts", id: "hit-charts" });
  element.append(charts, el("div", { class: "card" }, el("h3", {}, "Per section"), sections));
  const plots = new Map(); // source -> {card, plot, periods}

  function options(width, entry) {
    return {
      width,
      height: 200,
      plugins: [shadePlugin(() => entry.periods)],
      scales: { x: { time: true, range: timeRange(ctx) }, y: { range: (u, min, max) => [0, Math.max(max * 1.15, 1)] } },
      series: [
        {},
        { label: "hits/s", stroke: "#2563eb", width: 2, fill: "rgba(37, 99, 235, 0.08)", value: (u, v) => fmtNum(v) },
        { label: "threshold", stroke: "#dc2626", width: 1.5, dash: [6, 4], points: { show: false }, value: (u, v) => fmtNum(v) },
      ],
      axes: [{}, { label: "hits/s", size: 60 }],
    };
  }

  function drawSeries(body, alerts) {
    const seen = new Set();
    for (const { source, threshold, points } of body.series) {
      seen.add(source);
      const t = points.map((p) => Date.parse(p.t) / 1000);
      const data = [t, points.map((p) => p.hits_per_second), t.map(() => threshold)];
      const periods = alerts
        .filter((a) => a.source === source)
        .map((a) => [Date.parse(a.started_at) / 1000, a.ended_at ? Date.parse(a.ended_at) / 1000 : null]);
      let entry = plots.get(source);
      if (!entry) {
        const holder = el("div", { class: "plot" });
        const card = el("div", { class: "card hit-card", "data-source": source }, el("h3", {}, "hits/s · " + source), holder);
        charts.append(card);
        entry = { card, periods };
        entry.plot = new uPlot(options(Math.max(320, card.clientWidth - 24), entry), data, holder);
        plots.set(source, entry);
      } else {
        entry.periods = periods;
        entry.plot.setData(data);
      }
      entry.card.dataset.bucketSeconds = body.bucket_seconds;
      entry.card.dataset.threshold = threshold ?? "";
      entry.card.dataset.alerts = JSON.stringify(periods);
      entry.card.dataset.plotted = JSON.stringify(entry.plot.data);
    }
    for (const [source, entry] of plots) {
      if (!seen.has(source)) { entry.plot.destroy(); entry.card.remove(); plots.delete(source); }
    }
    if (!body.series.length && !charts.querySelector(".muted")) {
      charts.append(el("p", { class: "muted" }, "No hits in this range (wm tail --publish, or POST /api/logs)."));
    } else if (body.series.length) {
      charts.querySelector(".muted")?.remove();
    }
  }

  function drawSections(hits) {
    const body = sections.tBodies[0];
    body.replaceChildren();
    for (const s of hits) {
      body.append(el("tr", { "data-section": s.section },
        el("td", {}, s.section),
        el("td", { class: "num", "data-field": "hits" }, s.hits),
        el("td", { class: "num", "data-field": "errors" }, s.errors),
        el("td", { class: s.errors ? "num bad" : "num", "data-field": "error_rate" }, (s.error_rate * 100).toFixed(1) + " %"),
        el("td", { class: "num", "data-field": "bytes" }, s.bytes),
        el("td", { class: "num", "data-field": "bytes_p50" }, fmtNum(s.bytes_p50, 0)),
        el("td", { class: "num", "data-field": "bytes_p95" }, fmtNum(s.bytes_p95, 0)),
        el("td", { class: "num", "data-field": "bytes_p99" }, fmtNum(s.bytes_p99, 0))));
    }
    if (!hits.length) body.append(el("tr", {}, el("td", { colSpan: 8, class: "muted" }, "No hits in this range.")));
  }

  async function refresh() {
    const since = ctx.range();
    const [hits, series, alerts] = await Promise.all([
      ctx.api("/api/hits", { since }),
      ctx.api("/api/hits/series", { since, bucket: BUCKET_FOR_RANGE[since] || "auto" }),
      ctx.api("/api/alerts"),
    ]);
    drawSections(hits.hits);
    drawSeries(series, alerts.alerts);
    element.dataset.refreshedAt = new Date().toISOString();
  }

  const later = debounced(refresh, ctx);
  window.addEventListener("resize", () => {
    for (const { card, plot } of plots.values()) plot.setSize({ width: Math.max(320, card.clientWidth - 24), height: 200 });
  });
  return { refresh, on: { hits: later, alerts: later } };
}
