// Device charts: fetch the chart API for the chosen range in the browser's time zone and draw
// every chart with uPlot. Each chart element carries data-traces and data-points (browser tests).
(function () {
  "use strict";
  const root = document.getElementById("charts");
  const form = document.getElementById("range");
  const status = document.getElementById("chart-status");
  const csv = document.getElementById("csv");
  const zone = (Intl.DateTimeFormat().resolvedOptions().timeZone) || "UTC";
  const PREFIXES = [[1e-6, "k"], [1e-3, "M"], [1, "G"], [1e3, "T"]];  // values arrive in G units
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];

  function params() {
    const data = new FormData(form);
    const p = new URLSearchParams({ timezone: zone });
    if (data.get("time") === "custom" && data.get("start") && data.get("end")) {
      const fmt = (v) => v.replace("T", " ") + (v.length === 16 ? ":00" : "");
      p.set("start", fmt(data.get("start")));
      p.set("end", fmt(data.get("end")));
    } else if (data.get("time") !== "custom") {
      p.set("time", data.get("time"));
    }
    for (const [key, value] of data.entries()) {  // other filters (dashboard: organization)
      if (!["time", "start", "end"].includes(key) && value) p.set(key, value);
    }
    return p;
  }

  function adaptive(unit, values) {
    // "adaptive_prefix+B": values are in GB (or Gbps); pick a prefix that fits the largest value.
    if (!unit.startsWith("adaptive_prefix+")) return { factor: 1, unit: unit };
    const base = unit.slice("adaptive_prefix+".length);
    const max = Math.max(0, ...values.filter((v) => v !== null).map(Math.abs));
    let chosen = PREFIXES[0];
    for (const p of PREFIXES) { if (max >= p[0]) chosen = p; }
    return { factor: 1 / chosen[0], unit: " " + chosen[1] + base };
  }

  function summaryLabel(chart, key) {
    // As the chart API's peer: summary_labels follow trace_order when given, else the traces.
    const labels = chart.summary_labels || [];
    const at = chart.trace_order ? chart.trace_order.indexOf(key) : chart.traces.findIndex((t) => t[0] === key);
    return labels[at] || key.replace(/_/g, " ");
  }

  function mapped(chart, value) {
    // colorscale.map: [[threshold, color, name], …] from the highest threshold down (null: the rest).
    const map = (chart.colorscale && chart.colorscale.map) || [];
    if (value === null || value === undefined) return null;
    const hit = map.find((entry) => entry[0] === null || value >= entry[0]);
    return hit && hit.length > 2 ? hit[2] : null;
  }

  // Alert thresholds the device page passes in (#threshold-lines: [{title, value, label}], the
  // value in the chart's units; web/alerting.py): a uPlot plugin that keeps the line in the y
  // range, draws it dashed across the plot, and marks the chart's box with data-threshold.
  function thresholdPlugin(chart, factor) {
    const source = document.getElementById("threshold-lines");
    const line = source && JSON.parse(source.textContent).find((l) => l.title === chart.title);
    if (!line) return [];
    const value = line.value * factor;
    return [{
      opts: (u, opts) => {
        opts.scales = opts.scales || {};
        const y = opts.scales.y = Object.assign({}, opts.scales.y);
        const own = y.range;
        y.range = (self, min, max) => {
          const r = typeof own === "function" ? own(self, min, max) : own || uPlot.rangeNum(
            Math.min(min ?? value, value), Math.max(max ?? value, value), 0.1, true);
          const pad = (Math.max(r[1], value) - Math.min(r[0], value)) * 0.08 || 1;  // room for the label
          return [value <= r[0] ? value - pad : r[0], value >= r[1] ? value + pad : r[1]];
        };
      },
      hooks: {
        draw: (u) => {
          const box = u.root.closest(".chart");
          if (box) { box.dataset.threshold = String(value); box.dataset.thresholdLabel = line.label; }
          const y = Math.round(u.valToPos(value, "y", true));
          const ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = "#c62828"; ctx.lineWidth = 1.5 * devicePixelRatio;
          ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
          ctx.beginPath(); ctx.moveTo(u.bbox.left, y); ctx.lineTo(u.bbox.left + u.bbox.width, y); ctx.stroke();
          ctx.setLineDash([]); ctx.fillStyle = "#c62828"; ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
          ctx.textAlign = "left"; ctx.textBaseline = "bottom";
          ctx.fillText(line.label, u.bbox.left + 4 * devicePixelRatio, y - 4 * devicePixelRatio);
          ctx.restore();
        },
      },
    }];
  }

  function draw(chart, sharedX) {
    const x = chart.x || sharedX;  // a raw-value chart has its own times
    const traces = chart.traces.map((t) => [t[0], t[1].slice()]);
    if (chart.calculate_total) {
      const total = x.map((_, i) => {
        const vals = traces.map((t) => t[1][i]).filter((v) => v !== null && v !== undefined);
        return vals.length ? vals.reduce((a, b) => a + b, 0) : null;
      });
      traces.unshift(["total", total]);
    }
    const scale = adaptive(chart.unit || "", traces.flatMap((t) => t[1]));
    const box = document.createElement("section");
    box.className = "chart card";
    box.dataset.traces = String(traces.length);
    box.dataset.points = String(x.length);
    const sums = Object.assign({}, chart.summary || {});
    if (chart.calculate_total) {
      const values = Object.values(sums).filter((v) => v !== null);
      sums.total = values.length ? values.reduce((a, b) => a + b, 0) : null;
    }
    const summary = traces
      .filter((t) => t[0] in sums)
      .map((t) => {
        const v = sums[t[0]];
        const named = mapped(chart, v);
        const shown = v === null ? "n/a" : Math.round(v * scale.factor * 100) / 100 + scale.unit;
        return `${summaryLabel(chart, t[0])}: ${shown}${named ? " (" + named + ")" : ""}`;
      })
      .join(" · ");
    box.innerHTML = `<h2></h2><p class="description"></p><p class="summary"></p><div class="plot"></div>`;
    box.querySelector("h2").textContent = chart.title;
    box.querySelector(".description").textContent = chart.description || "";
    box.querySelector(".summary").textContent = summary;
    root.appendChild(box);
    const index = x.map((_, i) => i);
    const bars = chart.type === "bar" || (chart.type || "").startsWith("stackedbar");
    const color = (key, i) => {
      const at = chart.trace_order ? chart.trace_order.indexOf(key) : i;
      return (chart.colors && chart.colors[at]) || PALETTE[i % PALETTE.length];
    };
    const series = [{}].concat(traces.map((t, i) => ({
      label: (chart.trace_labels && chart.trace_labels[t[0]]) || t[0].replace(/_/g, " "),
      stroke: color(t[0], i),
      fill: bars && t[0] !== "total" ? color(t[0], i) + "55" : undefined,
      spanGaps: !!chart.connect_points,
      paths: bars && t[0] !== "total" ? uPlot.paths.bars({ size: [0.8] }) : undefined,
      value: (u, v) => (v === null || v === undefined ? "N/A" : (Math.round(v * 100) / 100) + scale.unit),
    })));
    const data = [index].concat(traces.map((t) => t[1].map((v) => (v === null ? null : v * scale.factor))));
    new uPlot({
      width: Math.min(root.clientWidth || 800, 1100), height: 220, series: series,
      scales: { x: { time: false } },
      axes: [{ space: 110, values: (u, ticks) => ticks.map((i) => (x[i] || "").slice(5)) }, { size: 60 }],
      plugins: thresholdPlugin(chart, scale.factor),
    }, data, box.querySelector(".plot"));
  }

  async function load() {
    const p = params();
    if (csv) csv.href = root.dataset.api + "?" + p.toString() + "&csv=1";
    status.textContent = "Loading charts…";
    root.replaceChildren();
    let response, body = null;
    try {
      response = await fetch(root.dataset.api + "?" + p.toString(), { credentials: "same-origin" });
      body = await response.json();
    } catch (error) {
      // the server is unreachable, or answered something else than JSON (a proxy's error page)
    }
    if (!response || !response.ok || body === null) {
      // The API's errors say what went wrong: a bad range (400), the store down (503)…
      const why = response ? `HTTP ${response.status}` : "the server did not answer";
      status.textContent = (body && body.detail) || `Could not load the charts (${why}).`;
      return;
    }
    const x = body.x || [];
    body.charts.forEach((chart) => draw(chart, x));
    window.fleetwatchCharts = body.charts.map((c) => ({ title: c.title, traces: c.traces.length, points: (c.x || x).length }));
    status.textContent = body.charts.length ? `${body.charts.length} charts, ${zone}` : "No data in this range.";
    root.dataset.loaded = "true";
  }

  form.addEventListener("change", () => form.classList.toggle("show-custom", form.elements.time.value === "custom"));
  form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
  load();
})();
