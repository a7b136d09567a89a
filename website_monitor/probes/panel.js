// HTTP probes: a summary per URL, latency over time (p50/p95/p99 with the
// p50–p99 band) and availability per URL, and the newest results as they arrive.

import uPlot from "../vendor/uplot/uPlot.esm.js";

const MAX_LIVE_ROWS = 50;
// Bucket width per selected range: about 60–170 points per chart.
const BUCKET_FOR_RANGE = { "15m": "15s", "1h": "1m", "6h": "5m", "24h": "15m", "7d": "1h" };
const RANGE_SECONDS = { "15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800 };
const fmtMs = (v) => (v == null ? "–" : v.toFixed(1) + " ms");
const fmtPct = (v) => (v == null ? "–" : (v * 100).toFixed(1) + " %");
const fmtTime = (iso) => new Date(iso).toISOString().replace("T", " ").slice(0, 19) + "Z";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children.map((c) => (c instanceof Node ? c : document.createTextNode(String(c)))));
  return node;
}

function statusCell(probe) {
  if (!probe) return el("td", {}, "–");
  const text = probe.http_status_code ?? probe.error ?? "error";
  return el("td", { class: probe.ok ? "ok" : "bad", "data-field": "last_status" }, text);
}

export default function mount(element, ctx) {
  const summary = el("table", { id: "probe-summary" });
  summary.append(
    el("thead", {}, el("tr", {},
      el("th", {}, "URL"), el("th", {}, "last"), el("th", { class: "num" }, "last time"),
      el("th", { class: "num" }, "probes"), el("th", { class: "num" }, "p50"),
      el("th", { class: "num" }, "p95"), el("th", { class: "num" }, "p99"),
      el("th", { class: "num" }, "availability"))),
    el("tbody"),
  );
  const charts = el("div", { class: "charts", id: "probe-charts" });
  const live = el("table", { id: "live-results" });
  live.append(
    el("thead", {}, el("tr", {},
      el("th", {}, "time"), el("th", {}, "URL"), el("th", {}, "status"), el("th", { class: "num" }, "total"))),
    el("tbody"),
  );
  element.append(
    el("div", { class: "card" }, el("h3", {}, "Per URL"), summary),
    charts,
    el("div", { class: "card" }, el("h3", {}, "Live results"), live,
      el("p", { class: "muted", id: "live-empty" }, "New results appear here as they are stored.")),
  );

  const plots = new Map(); // url -> {card, plot}
  let pending = null;

  function chartData(points) {
    const t = points.map((p) => Date.parse(p.t) / 1000);
    return [
      t,
      points.map((p) => p.p50_ms),
      points.map((p) => p.p95_ms),
      points.map((p) => p.p99_ms),
      points.map((p) => (p.availability == null ? null : Math.round(p.availability * 1e6) / 1e4)),
    ];
  }

  function chartOptions(width) {
    return {
      width,
      height: 220,
      scales: {
        // The selected range, so that every chart shares one time axis.
        x: {
          time: true,
          range: (u, min, max) => {
            const span = RANGE_SECONDS[ctx.range()];
            if (span) { const now = Date.now() / 1000; return [now - span, now]; }
            return min === max ? [min - 60, max + 60] : [min, max];
          },
        },
        ms: { auto: true, range: (u, min, max) => [0, Math.max(max * 1.1, 1)] },
        pct: { range: [0, 100] },
      },
      series: [
        {},
        { label: "p50", scale: "ms", stroke: "#2563eb", width: 2, value: (u, v) => fmtMs(v) },
        { label: "p95", scale: "ms", stroke: "#f59e0b", width: 1.5, value: (u, v) => fmtMs(v) },
        { label: "p99", scale: "ms", stroke: "#dc2626", width: 1, value: (u, v) => fmtMs(v) },
        {
          label: "availability", scale: "pct", stroke: "#16a34a", width: 1.5, dash: [5, 4],
          value: (u, v) => (v == null ? "–" : v.toFixed(1) + " %"),
        },
      ],
      bands: [{ series: [3, 1], fill: "rgba(37, 99, 235, 0.10)" }],
      axes: [
        {},
        { scale: "ms", label: "ms", size: 60 },
        { scale: "pct", side: 1, label: "availability %", grid: { show: false } },
      ],
    };
  }

  function pointsTable(points) {
    const body = el("tbody");
    for (const p of points) {
      body.append(el("tr", {
        "data-t": p.t, "data-probes": p.probes, "data-p50": p.p50_ms ?? "", "data-p95": p.p95_ms ?? "",
        "data-p99": p.p99_ms ?? "", "data-availability": p.availability,
      },
      el("td", {}, fmtTime(p.t)), el("td", { class: "num" }, p.probes), el("td", { class: "num" }, fmtMs(p.p50_ms)),
      el("td", { class: "num" }, fmtMs(p.p95_ms)), el("td", { class: "num" }, fmtMs(p.p99_ms)),
      el("td", { class: "num" }, fmtPct(p.availability))));
    }
    return el("table", { class: "points" },
      el("thead", {}, el("tr", {}, el("th", {}, "bucket start"), el("th", { class: "num" }, "probes"),
        el("th", { class: "num" }, "p50"), el("th", { class: "num" }, "p95"), el("th", { class: "num" }, "p99"),
        el("th", { class: "num" }, "availability"))),
      body);
  }

  function drawSeries(body) {
    const seen = new Set();
    for (const { url, points } of body.series) {
      seen.add(url);
      const data = chartData(points);
      let entry = plots.get(url);
      if (!entry) {
        const holder = el("div", { class: "plot" });
        const details = el("details", {}, el("summary", {}, "data points"));
        const card = el("div", { class: "card chart-card", "data-url": url }, el("h3", {}, url), holder, details);
        charts.append(card);
        const width = Math.max(320, card.clientWidth - 24);
        entry = { card, details, plot: new uPlot(chartOptions(width), data, holder) };
        plots.set(url, entry);
      } else {
        entry.plot.setData(data);
      }
      entry.card.dataset.bucketSeconds = body.bucket_seconds;
      entry.card.dataset.plotted = JSON.stringify(entry.plot.data);
      entry.details.querySelector("table")?.remove();
      entry.details.append(pointsTable(points));
    }
    for (const [url, entry] of plots) {
      if (!seen.has(url)) {
        entry.plot.destroy();
        entry.card.remove();
        plots.delete(url);
      }
    }
  }

  function drawSummary(stats, latest) {
    const last = new Map(latest.map((p) => [p.url, p]));
    const body = summary.tBodies[0];
    body.replaceChildren();
    for (const s of stats) {
      const probe = last.get(s.url);
      body.append(el("tr", { "data-url": s.url },
        el("td", {}, s.url),
        statusCell(probe),
        el("td", { class: "num", "data-field": "last_time" }, probe ? fmtTime(probe.timestamp) : "–"),
        el("td", { class: "num", "data-field": "probes" }, s.probes),
        el("td", { class: "num", "data-field": "p50_ms" }, fmtMs(s.p50_ms)),
        el("td", { class: "num", "data-field": "p95_ms" }, fmtMs(s.p95_ms)),
        el("td", { class: "num", "data-field": "p99_ms" }, fmtMs(s.p99_ms)),
        el("td", { class: s.availability < 1 ? "num bad" : "num ok", "data-field": "availability" },
          fmtPct(s.availability))));
    }
    if (!stats.length) {
      body.append(el("tr", {}, el("td", { colSpan: 8, class: "muted" }, "No probe results in this range.")));
    }
  }

  async function refresh() {
    const since = ctx.range();
    const [stats, latest, series] = await Promise.all([
      ctx.api("/api/stats", { since }),
      ctx.api("/api/probes/latest"),
      ctx.api("/api/probes/series", { since, bucket: BUCKET_FOR_RANGE[since] || "auto" }),
    ]);
    drawSummary(stats.stats, latest.latest);
    drawSeries(series);
    element.dataset.refreshedAt = new Date().toISOString();
  }

  function scheduleRefresh() {
    if (pending) return;
    pending = setTimeout(async () => {
      pending = null;
      try { await refresh(); } catch (err) { ctx.error(String(err.message || err)); }
    }, 1000);
  }

  function addLive(probe) {
    document.getElementById("live-empty")?.remove();
    const body = live.tBodies[0];
    const row = el("tr", { class: "fresh", "data-id": probe.id, "data-url": probe.url },
      el("td", {}, fmtTime(probe.timestamp)), el("td", {}, probe.url), statusCell(probe),
      el("td", { class: "num", "data-field": "response_time_ms" }, fmtMs(probe.response_time_ms)));
    body.prepend(row);
    while (body.rows.length > MAX_LIVE_ROWS) body.deleteRow(-1);
  }

  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const { card, plot } of plots.values()) plot.setSize({ width: Math.max(320, card.clientWidth - 24), height: 220 });
    }, 200);
  });

  return {
    refresh,
    on: {
      probe(row) {
        addLive(row);
        scheduleRefresh();
      },
    },
  };
}
