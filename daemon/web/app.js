/* contimg-web's page: plain JavaScript, no library (docs/web.md).
 * Every value from the API goes into the page as text (textContent or SVG
 * attributes), never as markup.  The page does not poll: it loads once and
 * reloads the queue, groups and images when the server pushes a "queue"
 * event on /api/events. */
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const state = { groups: [], images: {}, candidates: [], source: null, stamps: false };

function el(tag, attrs, ...kids) {
  const e = tag.startsWith("svg:") ? document.createElementNS(SVGNS, tag.slice(4))
                                   : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.setAttribute("class", v);
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
}

async function api(path) {
  const r = await fetch(path, { headers: { Accept: "application/json" } });
  if (!r.ok) {
    let msg = r.status + "";
    try { msg = (await r.json()).error || msg; } catch (e) { /* not JSON */ }
    const err = new Error(msg); err.status = r.status; throw err;
  }
  return r.json();
}

const fmt = (v, d = 2) => (v == null || !isFinite(v)) ? "–" : Number(v).toFixed(d);
const mjy = (v, d = 2) => (v == null) ? "–" : fmt(v * 1e3, d);
function ago(s) {
  if (s == null) return "–";
  if (s < 120) return Math.round(s) + " s";
  if (s < 7200) return Math.round(s / 60) + " min";
  return (s / 3600).toFixed(1) + " h";
}

/* ---- queue and daemon ---- */

async function loadStatus() {
  const s = await api("/api/status");
  const d = s.daemon || {};
  const b = $("daemon");
  if (d.running) {
    const stale = d.heartbeat_age_s != null && d.heartbeat_age_s > 600;
    b.className = "badge " + (stale ? "warn" : "ok");
    b.textContent = "daemon running (pid " + d.pid + ", heartbeat " + ago(d.heartbeat_age_s) + ")";
    b.title = d.status || "";
  } else {
    b.className = "badge bad";
    b.textContent = "daemon not running";
    b.title = "";
  }
  const c = $("counts");
  c.replaceChildren();
  for (const k of ["collecting", "pending", "in_progress", "completed", "failed"])
    c.append(el("div", { class: "count " + k, "data-state": k },
                el("b", { text: String(s.counts[k]) }), k.replace("_", " ")));
  const info = [];
  info.push(s.groups_per_hour + " completed in the last hour");
  if (s.last_completed) info.push("last done " + s.last_completed.group_id);
  if (s.last_error) info.push("last error " + s.last_error.group_id + ": " + (s.last_error.message || ""));
  $("queue-info").textContent = info.join(" · ");
  const tb = $("running").tBodies[0];
  tb.replaceChildren();
  for (const r of s.running)
    tb.append(el("tr", {}, el("td", { text: r.group_id }), el("td", { text: r.stage || "–" }),
                 el("td", { text: ago(r.elapsed_s) })));
  if (!s.running.length) tb.append(el("tr", {}, el("td", { colspan: 3, class: "muted", text: "idle" })));
  if (s.last_completed) loadTimings(s.last_completed.group_id);
}

async function loadTimings(group) {
  const g = await api("/api/groups/" + encodeURIComponent(group));
  const runs = g.stage_runs || [];
  const max = Math.max(1e-9, ...runs.map((r) => r.seconds));
  $("timings-group").textContent = "— " + group;
  const box = $("timings");
  box.replaceChildren();
  for (const r of runs) {
    const fill = el("div", { class: "fill" });
    fill.style.width = (100 * r.seconds / max).toFixed(1) + "%";
    box.append(el("div", { class: "bar", title: r.ok ? "" : (r.error || "failed") },
                  el("span", { text: r.stage + (r.ok ? "" : " ✗") }), fill,
                  el("span", { class: "num", text: fmt(r.seconds, 2) + " s" })));
  }
}

/* ---- groups with QA ---- */

async function loadGroups() {
  const [groups, images] = await Promise.all([api("/api/groups?limit=50"), api("/api/images?limit=200")]);
  state.images = {};
  for (const im of images) if (!state.images[im.group_id]) state.images[im.group_id] = im;
  state.groups = groups.map((g) => {
    const im = state.images[g.group_id] || {};
    const b = im.beam || {};
    return {
      group_id: g.group_id, state: g.state, n_subbands: g.n_subbands, n_expected: g.n_expected,
      flag_fraction: im.flag_fraction, calibrated: g.calibrated,
      rms_mjy: im.rms_jy != null ? im.rms_jy * 1e3 : null,
      expected_mjy: im.expected_rms_jy != null ? im.expected_rms_jy * 1e3 : null,
      expected_source: im.expected_rms_source,
      rms_ratio: im.rms_ratio, dynamic_range: im.dynamic_range,
      beam: b.bmaj_arcsec != null ? fmt(b.bmaj_arcsec, 1) + "″×" + fmt(b.bmin_arcsec, 1) + "″ " + fmt(b.bpa_deg, 0) + "°" : "",
      error: g.error || "",
    };
  });
  renderGroups();
  renderImage(images[0]);
}

function renderGroups() {
  const tb = $("groups").tBodies[0];
  tb.replaceChildren();
  for (const g of sorted("groups", state.groups)) {
    /* Only a ratio to the expectation from the data is an absolute test; the
       natural-weighting SEFD formula ignores the weighting and trusts sefd_jy. */
    const fromData = g.expected_source === "data";
    const ratio = el("td", { class: "num" + (fromData && g.rms_ratio > 2 ? " ratio-high" : ""),
                             text: fmt(g.rms_ratio, 2) + (g.rms_ratio != null && !fromData ? " (SEFD)" : "") });
    tb.append(el("tr", { "data-group": g.group_id },
      el("td", { text: g.group_id }),
      el("td", { class: "state-" + g.state, text: g.state }),
      el("td", { class: "num", text: g.n_subbands + "/" + g.n_expected }),
      el("td", { class: "num", text: g.flag_fraction == null ? "–" : fmt(100 * g.flag_fraction, 1) + " %" }),
      el("td", { text: g.calibrated ? "yes" : "no" }),
      el("td", { class: "num", text: fmt(g.rms_mjy, 2) }),
      el("td", { class: "num", text: fmt(g.expected_mjy, 2),
                 title: fromData ? "radiometer expectation from the image's own visibilities"
                      : g.expected_mjy != null ? "SEFD radiometer equation, natural weighting" : "" }),
      ratio,
      el("td", { class: "num", text: fmt(g.dynamic_range, 0) }),
      el("td", { text: g.beam }),
      el("td", { class: "err", text: g.error })));
  }
}

/* ---- latest image ---- */

async function renderImage(im) {
  const box = $("quicklook");
  box.replaceChildren();
  if (!im) { $("image-info").textContent = "no image yet"; return; }
  const b = im.beam || {}, c = im.centre || {};
  $("image-info").textContent = im.group_id + " · " + im.product + " · rms " + mjy(im.rms_jy) +
    " mJy/beam (" + (im.expected_rms_source === "data" ? "radiometer from the data "
                     : "SEFD radiometer, natural weighting ") + mjy(im.expected_rms_jy) +
    ") · DR " + fmt(im.dynamic_range, 0) +
    " · beam " + fmt(b.bmaj_arcsec, 1) + "″×" + fmt(b.bmin_arcsec, 1) + "″ · centre " +
    fmt(c.ra_deg, 3) + " " + fmt(c.dec_deg, 3);
  if (!im.quicklook_url) {
    box.append(el("p", { class: "muted", text: "no quick-look picture for this group" }));
    return;
  }
  const img = el("img", { src: im.quicklook_url, alt: "quick-look of " + im.group_id, id: "quicklook-img" });
  box.append(img);
  /* Catalog sources with photometry inside the field, marked on a SIN
   * projection about the centre (north up, east left, the picture spanning
   * the whole nx × ny image). */
  const half = Math.max(im.nx, im.ny) * im.cell_arcsec / 3600 / 2;
  let srcs = [];
  try {
    srcs = await api("/api/sources?ra=" + c.ra_deg + "&dec=" + c.dec_deg + "&r=" + (half * 1.42).toFixed(4) + "&limit=500");
  } catch (e) { srcs = []; }
  const svg = el("svg:svg", { viewBox: "0 0 " + im.nx + " " + im.ny, preserveAspectRatio: "none", id: "quicklook-marks" });
  const d2r = Math.PI / 180, a0 = c.ra_deg * d2r, d0 = c.dec_deg * d2r;
  for (const s of srcs) {
    const a = s.ra_deg * d2r, d = s.dec_deg * d2r;
    const l = Math.cos(d) * Math.sin(a - a0);
    const m = Math.sin(d) * Math.cos(d0) - Math.cos(d) * Math.sin(d0) * Math.cos(a - a0);
    const x = im.nx / 2 - (l / d2r) * 3600 / im.cell_arcsec;
    const y = im.ny / 2 - (m / d2r) * 3600 / im.cell_arcsec;
    if (x < 0 || y < 0 || x > im.nx || y > im.ny) continue;
    const r = Math.max(im.nx, im.ny) / 60;
    const circ = el("svg:circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: r.toFixed(1), fill: "none",
                                    stroke: "#ffd400", "stroke-width": (r / 6).toFixed(1), class: "src-mark" });
    circ.append(el("svg:title", { text: s.source }));
    svg.append(circ);
  }
  box.append(svg);
}

/* ---- candidates ---- */

async function loadCandidates() {
  state.candidates = await api("/api/candidates");
  renderCandidates();
}

function renderCandidates() {
  const tb = $("candidates").tBodies[0];
  tb.replaceChildren();
  for (const c of sorted("candidates", state.candidates)) {
    const tr = el("tr", { class: "clickable" + (c.source === state.source ? " selected" : ""), "data-source": c.source,
                          onclick: () => showSource(c.source) },
      el("td", { text: c.source }), el("td", { class: "num", text: fmt(c.score, 3) }),
      el("td", { text: c.status }), el("td", { class: "num", text: String(c.n) }),
      el("td", { class: "num", text: fmt(c.chi2_nu, 1) }), el("td", { class: "num", text: fmt(c.v, 3) }),
      el("td", { class: "num", text: fmt(c.amplitude, 3) }), el("td", { class: "num", text: fmt(c.timescale_days, 1) }),
      el("td", { class: "num", text: fmt(c.t0_mjd, 1) }), el("td", { class: "note", text: c.note || "" }));
    tb.append(tr);
  }
  if (!state.candidates.length)
    tb.append(el("tr", {}, el("td", { colspan: 10, class: "muted", text: "no candidates" })));
}

/* ---- sorting: click a header; numbers numerically, nulls last ---- */

const sortBy = { groups: { key: null, dir: 1 }, candidates: { key: "score", dir: -1 } };

function sorted(table, rows) {
  const s = sortBy[table];
  if (!s.key) return rows;
  return rows.slice().sort((a, b) => {
    const x = a[s.key], y = b[s.key];
    if (x == null && y == null) return 0;
    if (x == null) return 1;
    if (y == null) return -1;
    return (typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y))) * s.dir;
  });
}

function setupSort(table, render) {
  for (const th of $(table).tHead.rows[0].cells) {
    th.addEventListener("click", () => {
      const s = sortBy[table];
      s.dir = s.key === th.dataset.key ? -s.dir : (th.classList.contains("num") ? -1 : 1);
      s.key = th.dataset.key;
      for (const o of th.parentNode.cells) o.classList.remove("asc", "desc");
      th.classList.add(s.dir > 0 ? "asc" : "desc");
      render();
    });
  }
}

/* ---- light curve and stamps ---- */

async function showSource(name) {
  state.source = name;
  renderCandidates();
  $("lc-name").textContent = "— " + name;
  const box = $("lightcurve");
  box.replaceChildren();
  let lc;
  try {
    lc = await api("/api/sources/" + encodeURIComponent(name) + "/lightcurve");
  } catch (e) {
    box.append(el("p", { class: "muted", text: e.status === 404 ? "no photometry for " + name : "error: " + e.message }));
    $("stamps").replaceChildren(el("p", { class: "muted", text: "—" }));
    return;
  }
  box.append(plotLightcurve(lc));
  renderStamps(lc);
}

function plotLightcurve(lc) {
  const W = 800, H = 300, L = 60, R = 12, T = 12, B = 36;
  const pts = lc.points.filter((p) => p.mjd != null && p.normalized_flux_jy != null);
  const svg = el("svg:svg", { viewBox: "0 0 " + W + " " + H, id: "lc-svg", role: "img",
                             "aria-label": "light curve of " + lc.source });
  if (!pts.length) {
    svg.append(el("svg:text", { x: L, y: H / 2, text: "no normalised flux densities yet" }));
    return svg;
  }
  const model = lc.model && lc.model.curve ? lc.model.curve : [];
  let t0 = Math.min(...pts.map((p) => p.mjd)), t1 = Math.max(...pts.map((p) => p.mjd));
  let f0 = Math.min(...pts.map((p) => p.normalized_flux_jy - (p.normalized_flux_err_jy || 0)));
  let f1 = Math.max(...pts.map((p) => p.normalized_flux_jy + (p.normalized_flux_err_jy || 0)));
  for (const [, f] of model) { f0 = Math.min(f0, f); f1 = Math.max(f1, f); }
  if (t1 === t0) { t0 -= 1; t1 += 1; }
  if (f1 === f0) { f0 -= 1e-3; f1 += 1e-3; }
  const pad = 0.05 * (f1 - f0); f0 -= pad; f1 += pad;
  const X = (t) => L + (W - L - R) * (t - t0) / (t1 - t0);
  const Y = (f) => T + (H - T - B) * (1 - (f - f0) / (f1 - f0));
  for (let k = 0; k <= 4; k++) {
    const f = f0 + (f1 - f0) * k / 4, y = Y(f).toFixed(1);
    svg.append(el("svg:line", { x1: L, x2: W - R, y1: y, y2: y, class: "grid" }));
    svg.append(el("svg:text", { x: L - 6, y: (Y(f) + 4).toFixed(1), "text-anchor": "end", text: (f * 1e3).toFixed(1) }));
    const t = t0 + (t1 - t0) * k / 4;
    svg.append(el("svg:text", { x: X(t).toFixed(1), y: H - B + 16, "text-anchor": "middle", text: t.toFixed(1) }));
  }
  svg.append(el("svg:line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }));
  svg.append(el("svg:line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }));
  svg.append(el("svg:text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle", text: "MJD" }));
  svg.append(el("svg:text", { x: 12, y: (T + H - B) / 2, transform: "rotate(-90 12 " + ((T + H - B) / 2) + ")",
                              "text-anchor": "middle", text: "normalised flux density (mJy)" }));
  if (model.length > 1) {
    const d = model.map(([t, f], i) => (i ? "L" : "M") + X(t).toFixed(1) + " " + Y(f).toFixed(1)).join(" ");
    const path = el("svg:path", { d, class: "model", id: "lc-model" });
    path.append(el("svg:title", { text: "ESE model, score " + fmt(lc.model.score, 2) }));
    svg.append(path);
  }
  for (const p of pts) {
    const x = X(p.mjd).toFixed(1), e = p.normalized_flux_err_jy || 0;
    svg.append(el("svg:line", { x1: x, x2: x, y1: Y(p.normalized_flux_jy - e).toFixed(1),
                                y2: Y(p.normalized_flux_jy + e).toFixed(1), class: "eb" }));
    const c = el("svg:circle", { cx: x, cy: Y(p.normalized_flux_jy).toFixed(1), r: 3, class: "pt" });
    c.append(el("svg:title", { text: "MJD " + p.mjd.toFixed(3) + ": " + mjy(p.normalized_flux_jy, 2) + " ± " + mjy(e, 2) + " mJy" }));
    svg.append(c);
  }
  return svg;
}

function renderStamps(lc) {
  const box = $("stamps");
  box.replaceChildren();
  if (!lc.stamps) {
    box.append(el("p", { class: "muted", text: "postage stamps are not available from this server yet" }));
    return;
  }
  const names = lc.group_names || {};
  const withImage = new Set(lc.stamp_groups || []);
  const epochs = lc.points.filter((p) => withImage.has(names[p.group_id])).slice(-24);
  if (!epochs.length) {
    box.append(el("p", { class: "muted", text: "no image of this source is registered" }));
    return;
  }
  for (const p of epochs) {
    const g = names[p.group_id];
    box.append(el("figure", {},
      el("img", { src: "/api/sources/" + encodeURIComponent(lc.source) + "/stamps/" + g + ".png",
                  alt: lc.source + " on " + g, loading: "lazy" }),
      el("figcaption", { text: "MJD " + p.mjd.toFixed(2) })));
  }
}

/* ---- search ---- */

async function search(ev) {
  ev.preventDefault();
  const q = $("q").value.trim();
  const out = $("search-results");
  out.replaceChildren();
  if (!q) return;
  let rows;
  try {
    rows = await api("/api/sources?q=" + encodeURIComponent(q) + "&limit=50");
  } catch (e) {
    out.append(el("p", { class: "muted", text: "search: " + e.message }));
    return;
  }
  if (!rows.length) { out.append(el("p", { class: "muted", text: "no source with photometry matches" })); return; }
  if (rows.length === 1) { showSource(rows[0].source); return; }
  const ul = el("ul", { id: "search-list" });
  for (const r of rows)
    ul.append(el("li", {}, el("a", { text: r.source, onclick: () => showSource(r.source) }),
      " " + fmt(r.ra_deg, 4) + " " + fmt(r.dec_deg, 4) + " · " + r.n + " epochs" +
      (r.distance_deg != null ? " · " + (r.distance_deg * 60).toFixed(1) + "′" : "") +
      (r.score != null ? " · ESE score " + fmt(r.score, 2) : "")));
  out.append(ul);
}

/* ---- calibration tables ---- */

async function loadCaltables() {
  const rows = await api("/api/caltables");
  const tb = $("caltables").tBodies[0];
  tb.replaceChildren();
  for (const r of rows.slice(0, 30))
    tb.append(el("tr", {}, el("td", { text: r.type }), el("td", { text: r.status }),
      el("td", { text: r.calibrator }), el("td", { text: r.source_group }),
      el("td", { class: "num", text: fmt(r.median_snr, 1) }), el("td", { class: "num", text: fmt(r.phase_scatter_deg, 1) }),
      el("td", { class: "num", text: r.flagged_fraction == null ? "–" : fmt(100 * r.flagged_fraction, 1) + " %" }),
      el("td", { text: r.created })));
  if (!rows.length) tb.append(el("tr", {}, el("td", { colspan: 8, class: "muted", text: "no calibration tables registered" })));
}

/* ---- start, and the event stream ---- */

function report(e) { console.warn("contimg-web:", e.message || e); }

function refreshQueue() {
  loadStatus().catch(report);
  loadGroups().catch(report);
  loadCandidates().catch(report);
}

function listen() {
  if (!window.EventSource) { refreshQueue(); return; }
  const es = new EventSource("/api/events");
  es.addEventListener("queue", () => { $("live").className = "badge ok"; $("live").textContent = "live"; refreshQueue(); });
  es.addEventListener("open", () => { $("live").className = "badge ok"; $("live").textContent = "live"; });
  es.addEventListener("error", () => { $("live").className = "badge warn"; $("live").textContent = "reconnecting"; });
}

document.addEventListener("DOMContentLoaded", () => {
  setupSort("groups", renderGroups);
  setupSort("candidates", renderCandidates);
  $("search").addEventListener("submit", search);
  loadCaltables().catch(report);
  listen(); /* its first event loads the queue, groups and candidates */
  const first = new URLSearchParams(location.search).get("source");
  if (first) showSource(first);
});
