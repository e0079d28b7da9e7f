// gandiag's report viewer: draws each run's frames from the arrays embedded in #gd-data (no network).
// One slider moves every run to the same step (each shows its last snapshot at or before it), the layer
// toggles redraw the planes, the curves' cursor follows the slider, and a click on a curve jumps there.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("gd-data").textContent);
  const SVG = "http://www.w3.org/2000/svg";

  // --- decoding -------------------------------------------------------------------------------
  function bytes(b64) {
    const s = atob(b64), out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  const F16 = new Float32Array(65536);
  for (let u = 0; u < 65536; u++) {
    const sign = u & 0x8000 ? -1 : 1, e = (u >> 10) & 0x1f, f = u & 0x3ff;
    F16[u] = e === 0 ? sign * Math.pow(2, -14) * (f / 1024)
      : e === 31 ? (f ? NaN : sign * Infinity) : sign * Math.pow(2, e - 15) * (1 + f / 1024);
  }
  function f16(b64) {
    const b = bytes(b64), u = new Uint16Array(b.buffer, b.byteOffset, b.length / 2), out = new Float32Array(u.length);
    for (let i = 0; i < u.length; i++) out[i] = F16[u[i]];
    return out;
  }
  function csvRows(text) {  // RFC 4180: a quoted cell (a loop's own words) may hold commas, quotes, newlines
    const rows = [[]], cell = /"((?:[^"]|"")*)"|([^,\n]*)/y;
    for (let i = 0; i < text.length; i++) {
      cell.lastIndex = i;
      const m = cell.exec(text);
      rows[rows.length - 1].push(m[1] !== undefined ? { words: m[1].replace(/""/g, '"') } : m[2]);
      i = cell.lastIndex;
      if (text[i] === "\n" && i + 1 < text.length) rows.push([]);
    }
    return rows;
  }
  function parseCsv(text) {
    const [keys, ...rows] = csvRows(text), cols = {};
    keys.forEach(k => { cols[k] = []; });
    for (const row of rows) {
      row.forEach((cell, j) => {
        cols[keys[j]].push(cell === "" ? null : typeof cell === "object" ? cell.words
          : cell.indexOf(" ") >= 0 ? cell.split(" ").map(Number) : Number(cell));
      });
    }
    return cols;
  }
  function lastAtOrBefore(sorted, step) {  // index of the last value <= step, else 0
    let lo = 0, hi = sorted.length - 1, best = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid] <= step) { best = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return best;
  }
  const fmt = v => v === null || v === undefined || Number.isNaN(v) ? "" :
    Number.isInteger(v) ? v.toLocaleString("en") : Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3 && v !== 0
      ? v.toExponential(3) : String(Number(v.toPrecision(4)));

  const runs = data.runs.map(r => {
    const run = Object.assign({}, r, { metrics: parseCsv(r.csv) });
    if (!data.image) {
      run.fakeArr = f16(r.fakes); run.arrowArr = r.arrows ? f16(r.arrows) : null; run.shareArr = r.share ? f16(r.share) : null;
      run.pointArr = r.points ? f16(r.points) : null;
      run.d = r.d ? bytes(r.d) : null;   // a run whose snapshots hold fakes alone has no D grid or arrows
      run.manifoldArr = r.manifold ? f16(r.manifold) : null;
    }
    return run;
  });

  // --- state ----------------------------------------------------------------------------------
  const slider = document.getElementById("slider"), label = document.getElementById("step-label");
  const play = document.getElementById("play");
  const layers = {};
  document.querySelectorAll("[data-layer]").forEach(box => {
    layers[box.dataset.layer] = box.checked && !box.disabled;
    box.addEventListener("change", () => { layers[box.dataset.layer] = box.checked; draw(); });
  });
  slider.max = data.steps.length - 1;
  slider.value = data.steps.length - 1;
  let timer = null;

  // --- the plane --------------------------------------------------------------------------------
  function setupCanvas(canvas) {
    const dpr = window.devicePixelRatio || 1, w = canvas.width, h = canvas.height;
    if (!canvas.dataset.css) {
      canvas.dataset.css = w + "x" + h;
      canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    }
    const [cw, ch] = canvas.dataset.css.split("x").map(Number), ctx = canvas.getContext("2d");
    ctx.setTransform(canvas.width / cw, 0, 0, canvas.height / ch, 0, 0);
    return [ctx, cw, ch];
  }
  const lutRgb = data.lut.map(h => [1, 3, 5].map(i => parseInt(h.slice(i, i + 2), 16)));

  function heatmap(run, k, n) {  // D's grid, bilinearly interpolated in value (like matplotlib), then coloured
    const nx = run.grid[2], ny = run.grid[5];
    if (!run.heatCanvas || run.heatCanvas.width !== n) {
      run.heatCanvas = document.createElement("canvas"); run.heatCanvas.width = run.heatCanvas.height = n;
    }
    const ctx = run.heatCanvas.getContext("2d"), img = ctx.createImageData(n, n), off = k * nx * ny;
    const [lo, span] = run.d_scale[k], [clo, chi] = run.d_range, top = lutRgb.length - 1;
    const toColour = (span / 254) / (chi - clo) * top, base = (lo - clo) / (chi - clo) * top;
    // pixels at the grid's cell centres span the picture from half a cell before the first point to half after the last
    for (let py = 0; py < n; py++) {
      const gy = Math.min(Math.max((1 - (py + 0.5) / n) * ny - 0.5, 0), ny - 1);  // canvas rows run down, grid rows up
      const i0 = Math.min(Math.floor(gy), ny - 2), ty = gy - i0;
      for (let px = 0; px < n; px++) {
        const gx = Math.min(Math.max((px + 0.5) / n * nx - 0.5, 0), nx - 1), j0 = Math.min(Math.floor(gx), nx - 2), tx = gx - j0;
        const a = run.d[off + i0 * nx + j0], b = run.d[off + i0 * nx + j0 + 1];
        const c = run.d[off + (i0 + 1) * nx + j0], d = run.d[off + (i0 + 1) * nx + j0 + 1];
        const o = 4 * (py * n + px);
        if (a === 255 || b === 255 || c === 255 || d === 255) { img.data[o + 3] = 0; continue; }
        const level = (a * (1 - tx) + b * tx) * (1 - ty) + (c * (1 - tx) + d * tx) * ty;
        const rgb = lutRgb[Math.min(Math.max(Math.round(base + level * toColour), 0), top)];
        img.data[o] = rgb[0]; img.data[o + 1] = rgb[1]; img.data[o + 2] = rgb[2]; img.data[o + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
    return run.heatCanvas;
  }

  function drawPlane(run, panel, k) {
    const canvas = panel.querySelector("canvas.plane"), [ctx, W, H] = setupCanvas(canvas);
    const [x0, x1, y0, y1] = run.window, sx = W / (x1 - x0), sy = H / (y1 - y0);
    const X = x => (x - x0) * sx, Y = y => (y1 - y) * sy;
    ctx.clearRect(0, 0, W, H);
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
    if (layers.heatmap && run.d) {  // the grid's cells are centred on its points: the picture reaches half a cell beyond
      const [gx0, gx1, nx, gy0, gy1, ny] = run.grid, hx = (gx1 - gx0) / (2 * (nx - 1)), hy = (gy1 - gy0) / (2 * (ny - 1));
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(heatmap(run, k, Math.min(canvas.width, 1024)), X(gx0 - hx), Y(gy1 + hy), (gx1 - gx0 + 2 * hx) * sx, (gy1 - gy0 + 2 * hy) * sy);
    }
    if (layers.manifold && run.manifoldArr) {
      const q = run.manifold_side, off = k * q * q * 2, m = run.manifoldArr;
      ctx.strokeStyle = data.manifold_colour; ctx.globalAlpha = 0.8; ctx.lineWidth = 0.6;
      for (let a = 0; a < q; a++) {
        for (const rows of [true, false]) {
          ctx.beginPath();
          for (let b = 0; b < q; b++) {
            const i = rows ? a * q + b : b * q + a, x = X(m[off + 2 * i]), y = Y(m[off + 2 * i + 1]);
            b ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
          }
          ctx.stroke();
        }
      }
      ctx.globalAlpha = 1;
    }
    if (layers.target && run.pointArr) {  // a user's own points: no modes known
      ctx.fillStyle = data.target_colour; ctx.globalAlpha = 0.35;
      for (let i = 0; i < run.pointArr.length; i += 2) ctx.fillRect(X(run.pointArr[i]) - 1, Y(run.pointArr[i + 1]) - 1, 2, 2);
      ctx.globalAlpha = 1;
    } else if (layers.target) {
      ctx.strokeStyle = data.target_colour;
      run.centres.forEach((c, i) => [[1, 1.2], [2, 0.8], [3, 0.6]].forEach(([r, w]) => {
        ctx.lineWidth = w; ctx.beginPath();
        ctx.arc(X(c[0]), Y(c[1]), Math.max(r * run.stds[i] * sx, 0.8), 0, 2 * Math.PI); ctx.stroke();
      }));
    }
    const n = run.n_fakes, f = run.fakeArr, off = k * n * 2, cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    const hx = (x1 - x0) / 2, hy = (y1 - y0) / 2;
    let outside = 0, farthest = 0;
    if (layers.fakes) ctx.fillStyle = data.fake_colour;
    const marks = [];
    for (let i = 0; i < n; i++) {
      const x = f[off + 2 * i], y = f[off + 2 * i + 1];
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      const dx = x - cx, dy = y - cy;
      if (Math.abs(dx) > hx || Math.abs(dy) > hy) {
        outside++; farthest = Math.max(farthest, Math.hypot(dx, dy));
        const t = Math.min(hx / Math.abs(dx || 1e-300), hy / Math.abs(dy || 1e-300));
        marks.push([cx + dx * t, cy + dy * t, dx, dy]);
      } else if (layers.fakes) {
        ctx.beginPath(); ctx.arc(X(x), Y(y), 1.3, 0, 2 * Math.PI); ctx.fill();
      }
    }
    if (layers.arrows && run.arrowArr) {
      const a = run.arrowArr, idx = run.arrow_index, aoff = k * idx.length * 2;
      ctx.strokeStyle = ctx.fillStyle = data.arrow_colour; ctx.lineWidth = 0.9;
      idx.forEach((i, j) => {
        const px = X(f[off + 2 * i]), py = Y(f[off + 2 * i + 1]);
        const qx = X(f[off + 2 * i] + a[aoff + 2 * j]), qy = Y(f[off + 2 * i + 1] + a[aoff + 2 * j + 1]);
        const len = Math.hypot(qx - px, qy - py);
        if (!(len > 0.5)) return;
        const ux = (qx - px) / len, uy = (qy - py) / len, head = Math.min(4, 0.5 * len);
        ctx.beginPath(); ctx.moveTo(px, py); ctx.lineTo(qx, qy); ctx.stroke();
        ctx.beginPath(); ctx.moveTo(qx, qy);
        ctx.lineTo(qx - head * ux - 0.6 * head * uy, qy - head * uy + 0.6 * head * ux);
        ctx.lineTo(qx - head * ux + 0.6 * head * uy, qy - head * uy - 0.6 * head * ux); ctx.fill();
      });
    }
    if (layers.fakes) {  // a triangle on the edge, pointing at each fake that left the window
      ctx.fillStyle = data.fake_colour; ctx.strokeStyle = "#fff"; ctx.lineWidth = 0.4;
      const L = 14;
      for (const [ex, ey, dx, dy] of marks) {
        const d = Math.hypot(dx, dy), ux = dx / d, uy = -dy / d, tx = X(ex), ty = Y(ey);
        ctx.beginPath(); ctx.moveTo(tx, ty);
        ctx.lineTo(tx - L * ux - 0.4 * L * uy, ty - L * uy + 0.4 * L * ux);
        ctx.lineTo(tx - L * ux + 0.4 * L * uy, ty - L * uy - 0.4 * L * ux); ctx.closePath(); ctx.fill(); ctx.stroke();
      }
    }
    ctx.strokeStyle = "#333"; ctx.lineWidth = 1; ctx.strokeRect(0.5, 0.5, W - 1, H - 1);
    panel.querySelector(".note").textContent = outside && layers.fakes ?
      `off-window: ${outside} of ${n} fakes (marked on the edge), the farthest ${Number(farthest.toPrecision(3))} from the centre` : "";
    canvas.dataset.step = run.steps[k];
  }

  function drawColourBar(run, panel) {
    const canvas = panel.querySelector("canvas.cbar");
    if (!canvas) return;
    const [ctx, W, H] = setupCanvas(canvas), top = 100, bottom = H - 100, x = 6, w = 12;
    ctx.clearRect(0, 0, W, H);
    if (!layers.heatmap || !run.d) return;
    lutRgb.forEach((rgb, i) => {
      const y0 = bottom - (i + 1) * (bottom - top) / lutRgb.length;
      ctx.fillStyle = `rgb(${rgb})`; ctx.fillRect(x, y0, w, (bottom - top) / lutRgb.length + 0.5);
    });
    ctx.strokeStyle = "#666"; ctx.lineWidth = 0.5; ctx.strokeRect(x, top, w, bottom - top);
    ctx.fillStyle = "#333"; ctx.font = "11px DejaVu Sans, sans-serif"; ctx.textBaseline = "middle";
    const [lo, hi] = run.d_range;
    [[lo, bottom], [(lo + hi) / 2, (top + bottom) / 2], [hi, top]].forEach(([v, y]) => ctx.fillText(fmt(v), x + w + 3, y));
    ctx.textBaseline = "bottom"; ctx.fillText(run.d_label, 2, top - 6);
  }

  function drawBars(run, panel, k, step) {
    const canvas = panel.querySelector("canvas.bars"), [ctx, W, H] = setupCanvas(canvas);
    let heights, title;
    if (data.image) {
      const m = run.metrics, i = m.step ? lastAtOrBefore(m.step, step) : -1;
      const counts = i >= 0 && m.mode_counts ? m.mode_counts[i] : null;
      if (!Array.isArray(counts)) { ctx.clearRect(0, 0, W, H); return; }
      const total = counts.reduce((a, b) => a + b, 0) || 1;
      heights = counts.map(c => c / total);
      title = `samples per class (${counts.filter(c => c > 0).length} of ${counts.length} present)`;
    } else if (!run.centres) {
      ctx.clearRect(0, 0, W, H); ctx.fillStyle = "#333"; ctx.font = "11px DejaVu Sans, sans-serif";
      ctx.textBaseline = "top"; ctx.fillText("no modes known: no share per mode (the k-NN scores are in the curves)", 34, 1);
      return;
    } else {
      const M = run.centres.length;
      heights = Array.from(run.shareArr.slice(k * M, (k + 1) * M));
      title = `high-quality fakes per mode (${heights.filter(h => h > 0).length} of ${M} hit)`;
    }
    const top = data.image ? Math.max(1.5 / heights.length, ...heights) * 1.1 : run.share_hi;
    ctx.clearRect(0, 0, W, H);
    const l = 34, r = 6, t = 18, b = 16, bw = (W - l - r) / heights.length;
    ctx.fillStyle = "#333"; ctx.font = "11px DejaVu Sans, sans-serif"; ctx.textBaseline = "top";
    ctx.fillText(title, l, 1);
    ctx.fillStyle = "#56B4E9";
    heights.forEach((h, i) => {
      const hh = Math.min(h / top, 1) * (H - t - b);
      ctx.fillRect(l + i * bw + 0.1 * bw, H - b - hh, 0.8 * bw, hh);
    });
    const uniform = H - b - (1 / heights.length) / top * (H - t - b);
    ctx.strokeStyle = "#000"; ctx.setLineDash([4, 3]); ctx.lineWidth = 0.8;
    ctx.beginPath(); ctx.moveTo(l, uniform); ctx.lineTo(W - r, uniform); ctx.stroke(); ctx.setLineDash([]);
    ctx.strokeStyle = "#999"; ctx.beginPath(); ctx.moveTo(l, H - b); ctx.lineTo(W - r, H - b); ctx.stroke();
    ctx.fillStyle = "#333"; ctx.textBaseline = "middle"; ctx.textAlign = "right";
    ctx.fillText(fmt(Number(top.toPrecision(2))), l - 4, t); ctx.fillText("0", l - 4, H - b);
    ctx.textAlign = "left";
  }

  // --- curves -------------------------------------------------------------------------------
  function percentile(sorted, p) {
    if (!sorted.length) return NaN;
    const i = (sorted.length - 1) * p, lo = Math.floor(i), hi = Math.ceil(i);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (i - lo);
  }
  const curves = [];
  function buildCurves() {
    const box = document.getElementById("curves"), W = 470, H = 118, l = 46, r = 10, t = 18, b = 18;
    if (runs.length > 1) {  // which colour is which run
      const p = document.createElement("p"); p.className = "run-legend";
      p.innerHTML = runs.map(r => `<span style="color:${r.colour}">━ ${escapeHtml(r.label)}</span>`).join(" ");
      box.appendChild(p);
    }
    const xmax = Math.max(data.last_step, 1), X = s => l + s / xmax * (W - l - r);
    data.groups.forEach(([title, keys], g) => {
      const series = [];
      runs.forEach((run, ri) => keys.forEach(([key, name], ki) => {
        const v = run.metrics[key], s = run.metrics.step;
        if (!v || !v.some(x => x !== null && Number.isFinite(x))) return;
        series.push({ run, ri, key, name, ki, steps: s, values: v });
      }));
      if (!series.length) return;
      const finite = series.flatMap(s => s.values.filter(x => x !== null && Number.isFinite(x))).sort((a, b) => a - b);
      let lo = percentile(finite, 0.01), hi = percentile(finite, 0.99);
      const counts = keys.some(([k]) => k === "modes");
      if (counts) { lo = -0.3; hi = Math.max(...runs.map(rr => rr.centres ? rr.centres.length : rr.n_classes || 1)) + 0.5; }
      else { const pad = hi > lo ? 0.08 * (hi - lo) : 0.5; lo = lo >= 0 ? Math.max(lo - pad, 0) : lo - pad; hi += pad; }
      const Y = v => t + (1 - (v - lo) / (hi - lo)) * (H - t - b);
      const svg = document.createElementNS(SVG, "svg");
      svg.setAttribute("width", W); svg.setAttribute("height", H); svg.dataset.group = title;
      const el = (name, attrs, parent = svg) => {
        const e = document.createElementNS(SVG, name);
        for (const k in attrs) e.setAttribute(k, attrs[k]);
        parent.appendChild(e); return e;
      };
      runs.forEach(run => run.verdicts.forEach(v => {  // where each verdict's evidence lies
        if (!v.steps) return;
        const rect = el("rect", { x: X(v.steps[0]), y: t, width: Math.max(X(v.steps[1]) - X(v.steps[0]), 2),
          height: H - t - b, fill: runs.length > 1 ? run.colour : (v.severity === "error" ? "#b00020" : "#E69F00"),
          class: "verdict-span" });
        el("title", {}, rect).textContent = `${runs.length > 1 ? run.label + ": " : ""}${v.sentence}`;
      }));
      el("line", { x1: l, x2: W - r, y1: H - b, y2: H - b, class: "axis" });
      el("line", { x1: l, x2: l, y1: t, y2: H - b, class: "axis" });
      [lo, hi].forEach(v => { const e = el("text", { x: l - 4, y: Y(v) + 4, "text-anchor": "end" }); e.textContent = fmt(Number(v.toPrecision(3))); });
      [0, xmax].forEach((s, i) => { const e = el("text", { x: X(s), y: H - 4, "text-anchor": i ? "end" : "start" }); e.textContent = (i ? "step " : "") + fmt(s); });
      el("text", { x: l, y: 12 }).textContent = title;
      const solid = [];
      // one run: each series named in its colour; several: runs by colour (named above), series by dash
      const names = runs.length > 1 ? (keys.length > 1 ? [keys.map(([, name], i) => (i ? "dashed " : "solid ") + name).join(", ")] : [])
        : series.length > 1 ? series.map(s => s.name) : [];
      let legendX = W - r;
      names.slice().reverse().forEach((name, i) => {
        const e = el("text", { x: legendX, y: 12, "text-anchor": "end", fill: runs.length > 1 ? "#555" : data.colours[names.length - 1 - i] });
        e.textContent = name; legendX -= 6.5 * name.length + 12;
      });
      series.forEach(s => {
        const colour = runs.length > 1 ? s.run.colour : data.colours[s.ki], dash = runs.length > 1 && s.ki ? "4 3" : "";
        const pts = [];
        s.steps.forEach((st, i) => { const v = s.values[i]; if (v !== null && Number.isFinite(v)) pts.push([X(st), Y(Math.min(Math.max(v, lo), hi)), st]); });
        const d = pts.map(p => p[0].toFixed(1) + "," + p[1].toFixed(1)).join(" ");
        el("polyline", { points: d, fill: "none", stroke: colour, "stroke-width": 1, "stroke-dasharray": dash, class: "faint" });
        // a line through one point draws nothing: a run that diverged soon after its first row showed empty plots
        const dot = pts.length === 1 ? (cls => el("circle", { cx: pts[0][0], cy: pts[0][1], r: 2.2, fill: colour, class: cls })) : null;
        if (dot) dot("faint");
        solid.push({ pts, line: el("polyline", { fill: "none", stroke: colour, "stroke-width": 1.3, "stroke-dasharray": dash }),
          dot: dot && dot("lone") });
      });
      const cursor = el("line", { y1: t, y2: H - b, class: "cursor" });
      svg.addEventListener("click", ev => {  // jump to the snapshot nearest the clicked step
        const rect = svg.getBoundingClientRect(), step = (ev.clientX - rect.left - l) / (W - l - r) * xmax;
        let best = 0;
        data.steps.forEach((s, i) => { if (Math.abs(s - step) < Math.abs(data.steps[best] - step)) best = i; });
        slider.value = best; stop(); draw();
      });
      box.appendChild(svg);
      curves.push({ solid, cursor, X });
    });
  }
  function updateCurves(step) {
    for (const c of curves) {
      c.cursor.setAttribute("x1", c.X(step)); c.cursor.setAttribute("x2", c.X(step));
      for (const s of c.solid) {
        let n = 0;
        while (n < s.pts.length && s.pts[n][2] <= step) n++;
        s.line.setAttribute("points", s.pts.slice(0, n).map(p => p[0].toFixed(1) + "," + p[1].toFixed(1)).join(" "));
        if (s.dot) s.dot.setAttribute("visibility", n ? "visible" : "hidden");
      }
    }
  }

  // --- the metrics at the step ------------------------------------------------------------------
  function updateTable(step) {
    const table = document.getElementById("at-step");
    const rows = [`<tr><th>at step ${fmt(step)}</th>${runs.map(r => `<th style="color:${r.colour}">${escapeHtml(r.label)}</th>`).join("")}</tr>`];
    for (const [key, name] of data.metrics) {
      if (!runs.some(r => r.metrics[key])) continue;
      const cells = runs.map(r => {
        const m = r.metrics, s = m.step || [];
        if (!m[key] || !s.length || step < s[0] || step > r.last_step) return "<td></td>";
        let i = lastAtOrBefore(s, step);
        while (i > 0 && m[key][i] === null) i--;   // not logged at that row (NaN: logged, with no number)
        return `<td>${Number.isNaN(m[key][i]) ? "n/a" : fmt(m[key][i])}</td>`;
      });
      rows.push(`<tr><td>${escapeHtml(name)}</td>${cells.join("")}</tr>`);
    }
    table.innerHTML = rows.join("");
  }
  function escapeHtml(s) { return String(s).replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]); }

  // --- the loop --------------------------------------------------------------------------------
  function draw() {
    const step = data.steps[Number(slider.value)];
    const shown = [];
    runs.forEach((run, i) => {
      const panel = document.querySelector(`.panel[data-run="${i}"]`), k = lastAtOrBefore(run.steps, step);
      shown.push(run.steps[k]);
      if (data.image) {
        const img = panel.querySelector("img.samples");
        img.src = run.images[k]; img.dataset.step = run.steps[k];
      } else {
        drawPlane(run, panel, k); drawColourBar(run, panel);
      }
      drawBars(run, panel, k, step);
    });
    const older = shown.filter(s => s !== step);
    label.textContent = `step ${fmt(step)} of ${fmt(data.last_step)}` +
      (older.length ? ` (snapshot ${[...new Set(shown)].map(fmt).join(" / ")})` : "");
    label.dataset.step = step;
    updateCurves(step); updateTable(step);
  }
  function stop() { if (timer) { clearInterval(timer); timer = null; play.textContent = "▶ play"; } }
  play.addEventListener("click", () => {
    if (timer) { stop(); return; }
    if (Number(slider.value) >= data.steps.length - 1) slider.value = 0;
    play.textContent = "❚❚ pause";
    timer = setInterval(() => {
      if (Number(slider.value) >= data.steps.length - 1) { stop(); return; }
      slider.value = Number(slider.value) + 1; draw();
    }, 100);
  });
  slider.addEventListener("input", () => { stop(); draw(); });
  document.addEventListener("keydown", ev => {
    // the slider has no use for the space bar (it was the one control where space did nothing); a button,
    // checkbox, link or folded evidence keeps its own
    const own = ev.target !== slider && ev.target.closest && ev.target.closest("button, input, select, textarea, summary, a");
    if (ev.key === " " && !own) { ev.preventDefault(); play.click(); }
  });
  const link = document.getElementById("csv-link");
  link.href = URL.createObjectURL(new Blob([data.csv || runs[0].csv], { type: "text/csv" }));
  link.download = (runs.length === 1 ? runs[0].folder : "runs") + "-metrics.csv";
  buildCurves();
  draw();
})();
