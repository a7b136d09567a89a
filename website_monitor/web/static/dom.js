// Small DOM helpers shared by the panels.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children.map((c) => (c instanceof Node ? c : document.createTextNode(String(c)))));
  return node;
}

export const fmtTime = (iso) => (iso ? new Date(iso).toISOString().replace("T", " ").slice(0, 19) + "Z" : "–");
export const fmtNum = (v, digits = 2) => (v == null ? "–" : Number(v).toFixed(digits));
// Bucket width per selected range (as the probe charts): about 60–170 points per chart.
export const BUCKET_FOR_RANGE = { "15m": "15s", "1h": "1m", "6h": "5m", "24h": "15m", "7d": "1h" };
export const RANGE_SECONDS = { "15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800 };

export function timeRange(ctx) {
  return (u, min, max) => {
    const span = RANGE_SECONDS[ctx.range()];
    if (span) { const now = Date.now() / 1000; return [now - span, now]; }
    return min === max ? [min - 60, max + 60] : [min, max];
  };
}

// Runs `refresh` at most once a second however many live events arrive.
export function debounced(refresh, ctx) {
  let pending = null;
  return () => {
    if (pending) return;
    pending = setTimeout(async () => {
      pending = null;
      try { await refresh(); } catch (err) { ctx.error(String(err.message || err)); }
    }, 1000);
  };
}
