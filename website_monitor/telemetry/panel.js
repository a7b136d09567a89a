// UDP telemetry: per station (or timer/gauge) the bucket mean with a ± one standard
// deviation band, and arrivals/departures per bucket.

import uPlot from "../vendor/uplot/uPlot.esm.js";
import { el, fmtNum, fmtTime, timeRange, debounced } from "../dom.js";

export default function mount(element, ctx) {
  const charts = el("div", { class: "charts", id: "station-charts" });
  const empty = el("p", { class: "muted", id: "stations-empty", hidden: true }, "No telemetry in this range (wm listen).");
  element.append(empty, charts);
  const plots = new Map(); // "type:name" -> {card, plot}

  function options(width) {
    return {
      width,
      height: 200,
      scales: {
        x: { time: true, range: timeRange(ctx) },
        ms: { range: (u, min, max) => [Math.min(0, min), Math.max(max * 1.15, 1)] },
        n: { range: (u, min, max) => [0, Math.max(max * 1.15, 1)] },
      },
      series: [
        {},
        { label: "mean ms", scale: "ms", stroke: "#2563eb", width: 2, value: (u, v) => fmtNum(v) },
        { label: "mean − std", scale: "ms", stroke: "rgba(37, 99, 235, 0.35)", width: 1, value: (u, v) => fmtNum(v) },
        { label: "mean + std", scale: "ms", stroke: "rgba(37, 99, 235, 0.35)", width: 1, value: (u, v) => fmtNum(v) },
        { label: "arrivals", scale: "n", stroke: "#16a34a", width: 1.5, paths: uPlot.paths.stepped({ align: 1 }), value: (u, v) => fmtNum(v, 0) },
        { label: "departures", scale: "n", stroke: "#f59e0b", width: 1.5, dash: [5, 3], paths: uPlot.paths.stepped({ align: 1 }), value: (u, v) => fmtNum(v, 0) },
      ],
      bands: [{ series: [3, 2], fill: "rgba(37, 99, 235, 0.12)" }],
      axes: [{}, { scale: "ms", label: "ms", size: 60 }, { scale: "n", side: 1, label: "per bucket", grid: { show: false } }],
    };
  }

  function chartData(buckets) {
    const round = (v) => (v == null ? null : Math.round(v * 1e6) / 1e6);
    const std = (b) => (b.variance == null ? null : Math.sqrt(b.variance));
    return [
      buckets.map((b) => Date.parse(b.bucket_start) / 1000),
      buckets.map((b) => round(b.mean)),
      buckets.map((b) => (b.mean == null ? null : round(b.mean - std(b)))),
      buckets.map((b) => (b.mean == null ? null : round(b.mean + std(b)))),
      buckets.map((b) => b.arrivals ?? null),
      buckets.map((b) => b.departures ?? null),
    ];
  }

  async function refresh() {
    const { stations } = await ctx.api("/api/stations", { since: ctx.range() });
    const groups = new Map();
    for (const b of stations) {
      if (b.type === "counter") continue; // no mean or spread to draw
      const key = b.type + ":" + b.name;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(b);
    }
    empty.hidden = groups.size > 0;
    for (const [key, buckets] of groups) {
      const data = chartData(buckets);
      const last = buckets[buckets.length - 1];
      let entry = plots.get(key);
      if (!entry) {
        const holder = el("div", { class: "plot" });
        const info = el("p", { class: "muted station-info" });
        const card = el("div", { class: "card station-card", "data-name": last.name, "data-type": last.type },
          el("h3", {}, `${last.name} (${last.type})`), info, holder);
        charts.append(card);
        entry = { card, info, plot: new uPlot(options(Math.max(320, card.clientWidth - 24)), data, holder) };
        plots.set(key, entry);
      } else {
        entry.plot.setData(data);
      }
      entry.card.dataset.plotted = JSON.stringify(entry.plot.data);
      entry.info.textContent = `last bucket ${fmtTime(last.bucket_start)}: ${last.count} samples, mean ${fmtNum(last.mean)} ms`
        + (last.type === "station" ? `, ${last.arrivals} arrivals, ${last.departures} departures, status ${last.status ?? "–"}` : "");
    }
    for (const [key, entry] of plots) {
      if (!groups.has(key)) { entry.plot.destroy(); entry.card.remove(); plots.delete(key); }
    }
  }

  return { refresh, on: { bucket: debounced(refresh, ctx) } };
}
