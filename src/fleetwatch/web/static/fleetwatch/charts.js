// Device and dashboard charts: fetch the chart API for the chosen range and time zone and draw
// every chart with uPlot. The range and the zone live in the page's URL (?time=7d&tz=…), so a
// link reproduces the view. The page's zone (#charts data-tz) is the one the server rendered
// the page in: the URL's `tz`, else the user's preference (web/timezones.py).
// Each chart element carries data-traces and data-points; window.fleetwatchPlots holds the
// uPlot instances (browser tests).
(function () {
  "use strict";
  const root = document.getElementById("charts");
  const form = document.getElementById("range");
  const status = document.getElementById("chart-status");
  const csv = document.getElementById("csv");
  const zone = root.dataset.tz || "UTC";
  const SI = ["", "k", "M", "G", "T", "P", "E"];
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];
  const HEIGHT = 220;
  const PAGE_KEYS = ["time", "start", "end", "tz"];  // plus the page's own filters
  let plots = [];

  // The URL's 'YYYY-MM-DD HH:MM:SS' ⇄ the datetime-local input's 'YYYY-MM-DDTHH:MM:SS'.
  const toApi = (v) => v.replace("T", " ") + (v.length === 16 ? ":00" : "");
  const toInput = (v) => v.replace(" ", "T");

  function fromUrl() {
    // The form starts as the URL says (a shared link, or the back button).
    const url = new URLSearchParams(window.location.search);
    for (const [key, value] of url.entries()) {
      const field = form.elements[key];
      if (!field || key === "tz") continue;
      field.value = key === "start" || key === "end" ? toInput(value) : value;
    }
    if (url.get("start") && url.get("end") && !url.get("time")) form.elements.time.value = "custom";
    form.classList.toggle("show-custom", form.elements.time.value === "custom");
  }

  function pageParams() {
    // What the page's URL keeps: the range, the zone and the page's filters.
    const data = new FormData(form);
    const p = new URLSearchParams();
    if (data.get("time") === "custom") {
      if (data.get("start") && data.get("end")) {
        p.set("start", toApi(data.get("start")));
        p.set("end", toApi(data.get("end")));
      }
    } else {
      p.set("time", data.get("time"));
    }
    p.set("tz", data.get("tz") || zone);
    for (const [key, value] of data.entries()) {  // other filters (dashboard: organization)
      if (!PAGE_KEYS.includes(key) && value) p.set(key, value);
    }
    return p;
  }

  function apiParams(page) {
    // The chart API's names; precision=exact (a Fleetwatch extension, docs/api.md): traffic
    // in bytes and nothing rounded, so neither the charts nor the CSV lose precision.
    const p = new URLSearchParams(page);
    p.delete("tz");
    p.set("timezone", page.get("tz"));
    p.set("precision", "exact");
    return p;
  }

  function round(value) {
    // At most two decimals, as many as needed: 12.3456 → "12.35", 512 → "512".
    return String(Math.round(value * 100) / 100);
  }

  function prefixOf(magnitude) {
    // SI prefixes in steps of 1000 (kB = 1000 B, as the agents' counters are bytes).
    let at = 0;
    while (at < SI.length - 1 && Math.abs(magnitude) >= Math.pow(1000, at + 1)) at++;
    return at;
  }

  function formatter(unit) {
    // (value → text) for the legend and summaries, and (ticks → texts) for the y axis.
    // "adaptive_prefix+B": values arrive in bytes (precision=exact), shown with the prefix that
    // fits each value (legend) or the largest tick (axis); other units are appended as given
    // (" ms", " dBm", "%").
    if (unit.startsWith("adaptive_prefix+")) {
      const base = unit.slice("adaptive_prefix+".length);
      const one = (v, at) => round(v / Math.pow(1000, at)) + " " + SI[at] + base;
      return {
        value: (v) => (v === null || v === undefined ? "N/A" : one(v, prefixOf(v))),
        ticks: (ticks) => {
          const at = prefixOf(Math.max(0, ...ticks.map(Math.abs)));
          return ticks.map((t) => one(t, at));
        },
      };
    }
    return {
      value: (v) => (v === null || v === undefined ? "N/A" : round(v) + unit),
      ticks: (ticks) => ticks.map((t) => round(t) + unit),
    };
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

  function plotWidth(box) {
    return Math.max(200, box.querySelector(".plot").clientWidth);
  }

  // Alert thresholds the device page passes in (#threshold-lines: [{title, value, label}], the
  // value in the chart's units; web/alerting.py): a uPlot plugin that keeps the line in the y
  // range, draws it dashed across the plot, and marks the chart's box with data-threshold.
  function isolated(values) {
    const has = (i) => values[i] !== null && values[i] !== undefined;
    return values.some((v, i) => has(i) && !has(i - 1) && !has(i + 1));
  }

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
    const unit = chart.unit || "";
    const format = formatter(unit);
    const box = document.createElement("section");
    box.className = "chart card";
    box.dataset.traces = String(traces.length);
    box.dataset.points = String(x.length);
    box.dataset.unit = unit;
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
        return `${summaryLabel(chart, t[0])}: ${v === null ? "n/a" : format.value(v)}${named ? " (" + named + ")" : ""}`;
      })
      .join(" · ");
    box.innerHTML = `<h2></h2><p class="description"></p><p class="summary"></p><div class="plot"></div>`;
    box.querySelector("h2").textContent = chart.title;
    box.querySelector(".description").textContent = chart.description || "";
    box.querySelector(".summary").textContent = summary;
    root.appendChild(box);
    // x is the bucket's index: the API's times are already in the chosen zone, so they are shown
    // as answered (uPlot's own time axis would convert them to the browser's zone).
    const index = x.map((_, i) => i);
    const bars = chart.type === "bar" || (chart.type || "").startsWith("stackedbar");
    const color = (key, i) => {
      const at = chart.trace_order ? chart.trace_order.indexOf(key) : i;
      return (chart.colors && chart.colors[at]) || PALETTE[i % PALETTE.length];
    };
    const series = [{
      label: "Time",
      value: (u, i) => (i === null || i === undefined ? "—" : (x[i] || "")),
    }].concat(traces.map((t, i) => ({
      label: (chart.trace_labels && chart.trace_labels[t[0]]) || t[0].replace(/_/g, " "),
      stroke: color(t[0], i),
      fill: bars && t[0] !== "total" ? color(t[0], i) + "55" : undefined,
      spanGaps: !!chart.connect_points,
      paths: bars && t[0] !== "total" ? uPlot.paths.bars({ size: [0.8] }) : undefined,
      // A line needs two neighbours: a value alone between gaps (a device's first report) is a dot.
      points: bars && t[0] !== "total" ? undefined : { show: isolated(t[1]), size: 7 },
      value: (u, v) => format.value(v),
    })));
    const data = [index].concat(traces.map((t) => t[1]));
    // Percentages: 0–100 (higher only if a value is: a CPU load above its cores).
    const y = unit === "%" ? { range: (u, min, max) => [0, Math.max(100, max === null ? 0 : max)] } : {};
    const plot = new uPlot({
      width: plotWidth(box), height: HEIGHT, series: series,
      // Half a bucket of margin each side: the first and last bars are whole and can be hovered.
      scales: { x: { time: false, range: () => [-0.5, x.length - 0.5] }, y: y },
      axes: [
        { space: 110, values: (u, ticks) => ticks.map((i) => (Number.isInteger(i) && x[i] ? x[i].slice(5) : "")) },
        { size: 80, values: (u, ticks) => format.ticks(ticks) },
      ],
      plugins: thresholdPlugin(chart, 1),  // values are drawn as the API gives them
    }, data, box.querySelector(".plot"));
    plot.fleetwatch = { title: chart.title, box: box };
    plots.push(plot);
  }

  function resize() {
    for (const plot of plots) {
      const width = plotWidth(plot.fleetwatch.box);
      if (width !== plot.width) plot.setSize({ width: width, height: HEIGHT });
    }
  }

  async function load() {
    const page = pageParams();
    const p = apiParams(page);
    if (csv) csv.href = root.dataset.api + "?" + p.toString() + "&csv=1";
    status.textContent = "Loading charts…";
    plots.forEach((plot) => plot.destroy());
    plots = [];
    window.fleetwatchPlots = plots;
    root.replaceChildren();
    delete root.dataset.loaded;
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
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const page = pageParams();
    const url = window.location.pathname + "?" + page.toString();
    if (page.get("tz") !== zone) {
      // Another zone: the whole page follows (status history, problems are rendered in it).
      window.location.assign(url);
      return;
    }
    window.history.replaceState(null, "", url);
    load();
  });
  fromUrl();
  if (window.ResizeObserver) new ResizeObserver(resize).observe(root);
  load();
})();
