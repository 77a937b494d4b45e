// The usage collector's charts (web/usage.py, /usage/), drawn with uPlot from the answers the
// page carries (#usage-data: the API's JSON for active, installs, adoption, shares, survival).
// x is a row's index (periods, versions, cohorts are categories, as in charts.js). Estimates
// are dashed lines, or bars with an "*" under their period. Each chart's box gets data-points;
// the uPlot instances are in window.fleetwatchUsagePlots (browser tests).
(function () {
  "use strict";
  const source = document.getElementById("usage-data");
  const status = document.getElementById("chart-status");
  if (!source) return;
  const data = JSON.parse(source.textContent);
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
  const HEIGHT = 220;
  const plots = [];
  window.fleetwatchUsagePlots = plots;

  const percent = (v) => (v === null || v === undefined ? "–" : Math.round(v * 10000) / 100 + " %");
  const number = (v) => (v === null || v === undefined ? "–" : String(v));

  function draw(name, labels, series, options) {
    const box = document.querySelector(`[data-chart="${name}"]`);
    if (!box) return;
    box.closest(".usage-answer").dataset.points = String(labels.length);
    if (!labels.length) { box.textContent = "No data."; return; }
    const index = labels.map((_, i) => i);
    const format = options.format || number;
    const plot = new uPlot({
      width: Math.max(200, box.clientWidth), height: HEIGHT,
      series: [{ label: options.x || "Period", value: (u, i) => (i === null || i === undefined ? "—" : labels[i] || "") }]
        .concat(series.map((s, i) => ({
          label: s.label,
          stroke: s.color || PALETTE[i % PALETTE.length],
          fill: s.bars ? (s.color || PALETTE[i % PALETTE.length]) + "88" : undefined,
          dash: s.estimate ? [6, 4] : undefined,
          paths: s.bars ? uPlot.paths.bars({ size: [0.7] }) : undefined,
          points: { show: !s.bars, size: 6 },
          value: (u, v, si, i) => (s.shown ? format(s.shown[i]) : format(v)),
        }))),
      scales: { x: { time: false, range: () => [-0.5, labels.length - 0.5] }, y: options.y || {} },
      axes: [
        { values: (u, ticks) => ticks.map((i) => (Number.isInteger(i) && labels[i] !== undefined ? labels[i] : "")) },
        { size: 60, values: (u, ticks) => ticks.map(options.ticks || number) },
      ],
    }, [index].concat(series.map((s) => s.values)), box);
    plots.push(plot);
  }

  const mark = (row, estimate) => row.start.slice(2) + (estimate ? "*" : "");
  const active = data.active.periods;
  draw("active", active.map((r) => mark(r, false)), [
    { label: "instances", values: active.map((r) => r.instances) },
    { label: "anonymous per day (estimate)", values: active.map((r) => r.anonymous_per_day), estimate: true },
  ], { y: { range: (u, min, max) => [0, Math.max(1, max) * 1.1] } });

  const installs = data.installs.periods;
  draw("installs", installs.map((r) => mark(r, false)), [
    { label: "installs", values: installs.map((r) => r.installs), bars: true },
    { label: "upgrades", values: installs.map((r) => r.upgrades), bars: true },
  ], { y: { range: (u, min, max) => [0, Math.max(1, max) * 1.1] } });

  // Stacked shares: each version's bar reaches the sum of its own and the earlier versions'
  // shares; drawn from the top down so every layer stays visible. The legend shows the share.
  const adoption = data.adoption.periods;
  const versions = data.adoption.versions;
  const stacked = [];
  let below = adoption.map(() => 0);
  versions.forEach((version, i) => {
    const own = adoption.map((r) => (r.shares[version] === undefined ? null : r.shares[version]));
    below = below.map((b, k) => b + (own[k] || 0));
    stacked.push({ label: version, values: below.map((b, k) => (adoption[k].total ? b : null)), shown: own,
      bars: true, color: PALETTE[i % PALETTE.length] });
  });
  draw("adoption", adoption.map((r) => mark(r, r.estimate)), stacked.reverse(),
    { format: percent, ticks: percent, y: { range: () => [0, 1] } });

  for (const name of Object.keys(data.shares)) {
    const answer = data.shares[name];
    draw("shares-" + name, answer.shares.map((s) => (s.value || "(not sent)") + (answer.estimate ? "*" : "")), [
      { label: "share" + (answer.estimate ? " (estimate)" : ""), values: answer.shares.map((s) => s.share), bars: true },
    ], { x: "Value", format: percent, ticks: percent, y: { range: () => [0, 1] } });
  }

  const cohorts = data.survival.cohorts;
  draw("survival", cohorts.map((c) => c.cohort), data.survival.weeks.map((weeks, i) => ({
    label: weeks + " weeks",
    values: cohorts.map((c) => c.survival[i].share),
  })), { x: "Cohort", format: percent, ticks: percent, y: { range: () => [0, 1] } });

  status.textContent = "Charts of the answers below; * marks an estimate.";
  document.body.dataset.usageLoaded = "true";
})();
