// A backup job's charts (web/backups.py, /backups/jobs/<uuid>/): the size and the duration of its
// finished runs over time, drawn with uPlot from the JSON the page carries (#backup-series:
// {times: [unix seconds], size: [bytes], duration: [seconds]}), read by the server from the
// time-series store. Times are shown in the page's zone (#backup-charts data-tz: the user's, see
// web/timezones.py), not the browser's. Each chart's box carries data-points; the uPlot
// instances are in window.fleetwatchBackupPlots (browser tests).
(function () {
  "use strict";
  const root = document.getElementById("backup-charts");
  const status = document.getElementById("chart-status");
  const source = document.getElementById("backup-series");
  if (!root || !source) return;
  const zone = root.dataset.tz || "UTC";
  const data = JSON.parse(source.textContent);
  const HEIGHT = 220;
  const plots = [];
  window.fleetwatchBackupPlots = plots;

  // Sizes as the checks' messages write them (fleetwatch.backups.evaluation.format_size):
  // binary units, never TiB; from 2 units an integer, from 0.9 one decimal.
  function formatSize(bytes) {
    if (bytes === null || bytes === undefined) return "N/A";
    const units = [[1024 ** 3, "GiB"], [1024 ** 2, "MiB"], [1024, "KiB"]];
    for (const [unit, name] of units) {
      if (bytes >= 2 * unit) return Math.round(bytes / unit) + " " + name;
      if (bytes >= (unit === 1024 ? 900 : 0.9 * unit)) return (bytes / unit).toFixed(1) + " " + name;
    }
    return Math.round(bytes) + " B";
  }

  // Durations: "45 s", "12 min", "1 h 20 min".
  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined) return "N/A";
    const s = Math.round(seconds);
    if (s < 60) return s + " s";
    if (s < 3600) return Math.round(s / 60) + " min";
    const h = Math.floor(s / 3600);
    const m = Math.round((s % 3600) / 60);
    return m ? `${h} h ${m} min` : `${h} h`;
  }

  function width(box) {
    return Math.max(200, box.querySelector(".plot").clientWidth);
  }

  function draw(title, description, values, format, color) {
    const box = document.createElement("section");
    box.className = "chart card";
    box.dataset.points = String(values.filter((v) => v !== null && v !== undefined).length);
    box.innerHTML = `<h2></h2><p class="description"></p><div class="plot"></div>`;
    box.querySelector("h2").textContent = title;
    box.querySelector(".description").textContent = description;
    root.appendChild(box);
    const plot = new uPlot({
      width: width(box),
      height: HEIGHT,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), zone),
      series: [
        {},
        { label: title, stroke: color, fill: color + "22", value: (u, v) => format(v), points: { show: true, size: 6 } },
      ],
      axes: [{}, { size: 80, values: (u, ticks) => ticks.map(format) }],
      scales: { y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
    }, [data.times, values], box.querySelector(".plot"));
    plot.fleetwatch = { title: title, box: box };
    plots.push(plot);
  }

  if (!data.times.length) {
    status.textContent = "No finished run in this range.";
    root.dataset.loaded = "true";
    return;
  }
  draw("Size", "Total size of each finished run.", data.size, formatSize, "#1f77b4");
  draw("Duration", "From the run's start to its end.", data.duration, formatDuration, "#ff7f0e");
  status.textContent = `${data.times.length} finished runs, ${zone}`;
  root.dataset.loaded = "true";
  if (window.ResizeObserver) {
    new ResizeObserver(() => {
      for (const plot of plots) {
        const w = width(plot.fleetwatch.box);
        if (w !== plot.width) plot.setSize({ width: w, height: HEIGHT });
      }
    }).observe(root);
  }
})();
