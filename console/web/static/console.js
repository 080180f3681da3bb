// The console's pages: each asks the server for its figures as JSON every
// second and redraws them; actions are POSTs carrying the session's CSRF
// token. No build step: plain JavaScript as browsers run it.
"use strict";
(function () {
  const REFRESH_MS = 1000;
  const csrf = (document.querySelector('meta[name="csrf"]') || {}).content || "";
  const $ = (id) => document.getElementById(id);

  async function api(method, url, body) {
    const opts = { method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (method !== "GET") {
      opts.headers["X-CSRF-Token"] = csrf;
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body || {});
    }
    const r = await fetch(url, opts);
    if (r.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search); throw new Error("signed out"); }
    const text = await r.text();
    const v = text ? JSON.parse(text) : null;
    if (!r.ok) throw new Error((v && v.error) || r.statusText);
    return v;
  }

  // Formats, as the starter's terminal display writes them.
  function bytes(n) {
    const u = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let i = 0; n = n || 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + u[i];
  }
  function count(n) { return (n || 0).toLocaleString("en-US"); }
  function dur(s) {
    if (!s || s <= 0) return "–";
    s = Math.round(s);
    const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), x = s % 60;
    if (d) return d + "d" + String(h).padStart(2, "0") + "h";
    if (h) return h + "h" + String(m).padStart(2, "0") + "m";
    if (m) return m + "m" + String(x).padStart(2, "0") + "s";
    return x + "s";
  }
  function when(t) {
    if (!t || t.startsWith("0001")) return "–";
    const d = new Date(t);
    return d.toISOString().replace("T", " ").slice(0, 19) + "Z";
  }
  function rate(j) {
    if (!j.bytesPerSecond && !j.objectsPerSecond) {
      // An ended job: its average.
      const s = (Date.parse(j.ended) - Date.parse(j.started)) / 1000;
      if (!j.ended || j.ended.startsWith("0001") || !(s > 0)) return "–";
      return "avg " + bytes((j.counts.bytesCopied || 0) / s) + "/s";
    }
    return bytes(j.bytesPerSecond) + "/s · " + (j.objectsPerSecond || 0).toFixed(1) + " obj/s";
  }
  function stateClass(s) { return "state s-" + String(s || "").replace(/ /g, "-"); }
  function fraction(j) {
    const t = (j.shards && j.shards.total) || 0;
    if (j.state === "succeeded" || j.state === "completed with failures") return 1;
    return t ? (j.shards.done || 0) / t : 0;
  }
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
    }
    for (const k of kids) e.append(k);
    return e;
  }
  function jobLink(id) { return el("a", { href: "/jobs/" + encodeURIComponent(id), text: id }); }
  function stamp() { const u = $("updated"); if (u) u.textContent = "updated " + new Date().toLocaleTimeString(); }
  function show(id, msg, isError) {
    const e = $(id); if (!e) return;
    e.textContent = msg; e.hidden = !msg; e.classList.toggle("error", !!isError);
  }
  // poll runs fn now and then every REFRESH_MS after each run ends.
  function poll(fn) {
    let timer = null;
    const run = async () => {
      try { await fn(); } catch (e) { if (e.message !== "signed out") console.warn(e); }
      timer = setTimeout(run, REFRESH_MS);
    };
    run();
    return () => { clearTimeout(timer); run(); };
  }

  const signout = $("signout");
  if (signout) signout.addEventListener("click", async () => {
    await api("POST", "/logout").catch(() => {});
    location.href = "/login";
  });

  const page = (document.querySelector("[data-page]") || {}).dataset;
  if (!page) return;

  // ---- jobs list ----
  if (page.page === "jobs") {
    let offset = 0;
    const q = new URLSearchParams(location.search);
    $("state").value = q.get("state") || "";
    $("q").value = q.get("q") || "";
    const refresh = poll(async () => {
      const params = new URLSearchParams({ state: $("state").value, q: $("q").value, offset: offset });
      const p = await api("GET", "/api/jobs?" + params);
      // An answer to a filter typed over since is not drawn: the newer one is.
      if (params.toString() !== new URLSearchParams({ state: $("state").value, q: $("q").value, offset: offset }).toString()) return;
      const rows = p.jobs.map((j) => {
        const idCell = el("td", {}, jobLink(j.id));
        if (j.retryOf) idCell.append(el("div", { class: "retry-of" }, "retry of ", jobLink(j.retryOf)));
        const fill = el("div", { class: "fill" });
        fill.style.width = (fraction(j) * 100).toFixed(1) + "%"; // CSSOM: the CSP forbids style attributes
        const bar = el("div", { class: "bar small" }, fill);
        let done = count(j.counts.copied + j.counts.skipped) + " objects · " + bytes(j.counts.bytesCopied + j.counts.bytesSkipped);
        if (j.inFlight) {
          const f = j.inFlight.counts;
          done += " (+" + count((f.copied || 0) + (f.skipped || 0)) + " · " + bytes(f.bytesCopied || 0) + " under way)";
        }
        const prog = el("td", {}, bar, el("div", { class: "sub", text: done + " · shards " + (j.shards.done || 0) + "/" + (j.shards.total || 0) }));
        const tr = el("tr", { "data-job": j.id, "data-state": j.state },
          idCell, el("td", { text: j.summary }), el("td", {}, el("span", { class: stateClass(j.state), text: j.state })),
          prog, el("td", { text: rate(j) }), el("td", { text: dur(j.eta) }), el("td", { text: when(j.started) }),
          el("td", { text: when(j.ended) }), el("td", { class: j.counts.failed ? "failcount" : "", text: count(j.counts.failed) }));
        if (j.problem) tr.title = j.problem;
        return tr;
      });
      if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 9, text: "no job" })));
      $("jobs").replaceChildren(...rows);
      const last = Math.min(p.offset + p.size, p.total);
      $("pageinfo").textContent = p.total ? (p.offset + 1) + "–" + last + " of " + p.total : "";
      $("prev").disabled = p.offset === 0;
      $("next").disabled = last >= p.total;
      stamp();
    });
    const refilter = () => {
      offset = 0;
      history.replaceState(null, "", "?" + new URLSearchParams({ state: $("state").value, q: $("q").value }));
      refresh();
    };
    $("state").addEventListener("change", refilter);
    $("q").addEventListener("input", refilter);
    $("filter").addEventListener("submit", (e) => { e.preventDefault(); refilter(); });
    $("prev").addEventListener("click", () => { offset = Math.max(0, offset - 25); refresh(); });
    $("next").addEventListener("click", () => { offset += 25; refresh(); });
  }

  // ---- one job ----
  if (page.page === "job") {
    const id = page.job, base = "/api/jobs/" + encodeURIComponent(id);
    const samples = [];
    let last = null, foffset = 0, lastShards = 0, lastTotal = null, lastAt = 0;

    function drawChart() {
      const c = $("chart"), g = c.getContext("2d");
      g.clearRect(0, 0, c.width, c.height);
      g.strokeStyle = "#ccd"; g.strokeRect(0.5, 0.5, c.width - 1, c.height - 1);
      if (samples.length < 2) {
        g.fillStyle = "#889"; g.font = "13px sans-serif";
        g.fillText(last && !["running", "paused", "stalled", "planning"].includes(last.state) ?
          "the job has ended" : "the rate is drawn as the figures refresh", 12, c.height / 2);
        return;
      }
      const max = Math.max(...samples.map((s) => s.v), 1);
      const t0 = samples[0].t, span = Math.max(samples[samples.length - 1].t - t0, 1);
      g.strokeStyle = "#2a7"; g.lineWidth = 2; g.beginPath();
      samples.forEach((s, i) => {
        const x = 4 + (c.width - 8) * (s.t - t0) / span, y = c.height - 4 - (c.height - 20) * s.v / max;
        if (i) g.lineTo(x, y); else g.moveTo(x, y);
      });
      g.stroke();
      g.fillStyle = "#556"; g.font = "12px sans-serif";
      g.fillText("peak " + bytes(max) + "/s over the last " + dur(span / 1000), 8, 14);
    }

    function render(j) {
      last = j;
      const running = ["running", "paused", "stalled", "planning"].includes(j.state);
      const st = $("state"); st.className = stateClass(j.state); st.textContent = j.state;
      $("summary").textContent = j.summary;
      const ro = $("retry-of"); ro.replaceChildren(); if (j.retryOf) ro.append("retry of ", jobLink(j.retryOf));
      $("bar").style.width = (fraction(j) * 100).toFixed(1) + "%";
      const f = j.inFlight || { counts: {} };
      $("copied").textContent = count(j.counts.copied) + " · " + bytes(j.counts.bytesCopied);
      $("underway").textContent = j.inFlight ? count((f.counts.copied || 0) + (f.counts.skipped || 0) + (f.counts.failed || 0)) + " objects · " +
        bytes(f.counts.bytesCopied) + " in " + f.copies + " copies" : "–";
      $("skipped").textContent = count(j.counts.skipped) + " · " + bytes(j.counts.bytesSkipped);
      $("failed").textContent = count(j.counts.failed) + " · " + bytes(j.counts.bytesFailed);
      $("shards").textContent = (j.shards.done || 0) + " done, " + (j.shards.running || 0) + " running of " + (j.shards.total || 0);
      $("rate").textContent = rate(j);
      $("eta").textContent = dur(j.eta);
      $("started").textContent = when(j.started);
      $("ended").textContent = when(j.ended);
      const p = j.progress || {};
      $("workers").textContent = p.fleet ? count(p.fleet.workers) : "–";
      $("slots").textContent = p.fleet ? p.fleet.used + " of " + p.fleet.slots + " busy" + (p.window ? " · window " + p.window : "") : "–";
      const stalls = p.stalls || [];
      show("stalls", stalls.length ? "waiting for " + stalls.map((s) => s.store + " (" + s.reason + ")").join(", ") : "");
      show("job-error", j.error || j.problem || "", true);
      const set = (b, on) => { const e = $(b); if (e) e.disabled = !on; };
      set("pause", running && j.state !== "paused");
      set("resume", j.state === "paused");
      set("cancel", running);
      set("retry", j.state === "completed with failures");
      set("lim-apply", running);
      $("failure-count").textContent = "(" + count(j.counts.failed) + ")";
      // The chart's rate is that of the bytes done, those under way
      // included, between refreshes: it moves while a page copies.
      const total = (j.counts.bytesCopied || 0) + (j.counts.bytesSkipped || 0) + (f.counts.bytesCopied || 0) + (f.counts.bytesSkipped || 0);
      const now = Date.now();
      if (running && lastTotal !== null && now > lastAt) {
        const v = Math.max(0, (total - lastTotal) * 1000 / (now - lastAt));
        const prev = samples.length ? samples[samples.length - 1].v : v;
        samples.push({ t: now, v: 0.5 * v + 0.5 * prev });
        if (samples.length > 3600) samples.shift();
      }
      lastTotal = total; lastAt = now;
      drawChart();
      stamp();
    }

    async function loadFailures() {
      const params = new URLSearchParams({ q: $("failure-q").value, offset: foffset });
      const p = await api("GET", base + "/failures?" + params);
      if (params.toString() !== new URLSearchParams({ q: $("failure-q").value, offset: foffset }).toString()) return;
      const rows = p.failures.map((f) => el("tr", { "data-key": f.key },
        el("td", { class: "key", text: f.key }), el("td", { text: bytes(f.size) }), el("td", { text: f.reason }),
        el("td", { text: f.kind }), el("td", { text: String(f.attempts) })));
      if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 5, text: "no failure" })));
      $("failure-rows").replaceChildren(...rows);
      $("fpage").textContent = p.failures.length ? (p.offset + 1) + "–" + (p.offset + p.failures.length) : "";
      $("fprev").disabled = p.offset === 0;
      $("fnext").disabled = !p.more;
      $("failure-log").textContent = "from " + p.log;
    }
    async function loadShards() {
      const shards = await api("GET", base + "/shards");
      $("shard-rows").replaceChildren(...(shards || []).map((s) => el("tr", {},
        el("td", { text: s.id }), el("td", { text: s.state }), el("td", { text: when(s.started) }), el("td", { text: when(s.ended) }))));
    }
    async function loadLimits() {
      const l = await api("GET", base + "/limits");
      const parts = ["QPS " + (l.qps ? l.qps : "unlimited"), "bandwidth " + (l.bandwidthBytesPerSecond ? bytes(l.bandwidthBytesPerSecond) + "/s" : "unlimited")];
      for (const w of l.windows || []) parts.push(w.from + "-" + w.to + " " + bytes(w.bytesPerSecond) + "/s" + (w.utcOffset ? " UTC" + w.utcOffset : ""));
      $("limits-now").textContent = "Limits in force: " + parts.join(", ");
    }

    let tick = 0, failuresLoaded = false, lastFailed = -1;
    poll(async () => {
      let j;
      try { j = await api("GET", base); } catch (e) { show("job-error", e.message, true); throw e; }
      render(j);
      const running = ["running", "paused", "stalled", "planning"].includes(j.state);
      if (tick % 5 === 0 || (!running && lastShards === 0)) { await loadShards().catch(() => {}); lastShards++; }
      if (running && tick % 5 === 0) await loadLimits().catch(() => { $("limits-now").textContent = ""; });
      if (!failuresLoaded || j.counts.failed !== lastFailed) { failuresLoaded = true; lastFailed = j.counts.failed; await loadFailures().catch((e) => show("failure-log", e.message)); }
      tick++;
    });

    const result = (msg, err) => { const r = $("action-result"); if (r) { r.textContent = msg; r.classList.toggle("error", !!err); } };
    const act = async (name, body) => {
      try {
        const v = await api("POST", base + "/" + name, body);
        return v;
      } catch (e) { result(name + ": " + e.message, true); return null; }
    };
    if ($("pause")) {
      $("pause").addEventListener("click", async () => { const v = await act("pause"); if (v) result(v.changed ? "paused: copies in flight finish" : "was already paused"); });
      $("resume").addEventListener("click", async () => { const v = await act("resume"); if (v) result(v.changed ? "resumed" : "was not paused"); });
      $("cancel").addEventListener("click", () => { $("cancel-confirm").hidden = false; });
      $("cancel-no").addEventListener("click", () => { $("cancel-confirm").hidden = true; });
      $("cancel-yes").addEventListener("click", async () => {
        $("cancel-confirm").hidden = true;
        const v = await act("cancel"); if (v) result("cancellation requested: the job stops its shards and ends as cancelled");
      });
      $("retry").addEventListener("click", async () => {
        const v = await act("retry");
        if (v) location.href = "/jobs/" + encodeURIComponent(v.id);
      });
      $("limits-form").addEventListener("submit", async (e) => {
        e.preventDefault();
        const v = await act("limits", { qps: parseFloat($("lim-qps").value || "0") || 0, bandwidth: $("lim-bw").value, windows: $("lim-windows").value.split("\n") });
        if (v) { result("limits changed; the workers follow within seconds"); await loadLimits().catch(() => {}); }
      });
      $("schedule-form").addEventListener("submit", async (e) => {
        e.preventDefault();
        const v = await act("schedule", { id: $("sched-id").value, every: $("sched-every").value, now: $("sched-now").checked });
        if (v) result("created schedule " + v.id + " (see Schedules)");
      });
    }
    $("failure-filter").addEventListener("submit", (e) => { e.preventDefault(); foffset = 0; loadFailures().catch(() => {}); });
    $("failure-q").addEventListener("input", () => { foffset = 0; loadFailures().catch(() => {}); });
    $("fprev").addEventListener("click", () => { foffset = Math.max(0, foffset - 25); loadFailures().catch(() => {}); });
    $("fnext").addEventListener("click", () => { foffset += 25; loadFailures().catch(() => {}); });
  }

  // ---- new job ----
  if (page.page === "new") {
    const lines = (id) => $(id).value.split("\n").map((s) => s.trim()).filter(Boolean);
    const form = () => ({
      jobId: $("f-id").value.trim(), sourceStore: $("f-src").value, sourcePrefix: $("f-src-prefix").value,
      destinationStore: $("f-dst").value, destinationPrefix: $("f-dst-prefix").value, conflict: $("f-conflict").value,
      include: lines("f-include"), exclude: lines("f-exclude"), storageClass: $("f-class").value,
      qps: parseFloat($("f-qps").value || "0") || 0, bandwidth: $("f-bw").value, windows: lines("f-windows"),
    });
    const dsts = $("f-dst");
    if (dsts.options.length > 1 && dsts.selectedIndex === $("f-src").selectedIndex) dsts.selectedIndex = 1;
    $("job-form").addEventListener("input", () => { $("start").disabled = true; });
    $("preview").addEventListener("click", async () => {
      show("form-error", "");
      $("preview").disabled = true;
      try {
        const p = await api("POST", "/api/plan", form());
        $("plan-summary").textContent = p.summary + ", conflict policy " + p.conflict + ": " + count(p.objects) + " objects, " + bytes(p.bytes) +
          "; would copy " + count(p.copies) + " objects, " + bytes(p.copyBytes) + ". Nothing was written.";
        $("plan-rows").replaceChildren(...p.shards.map((s) => el("tr", {}, el("td", { text: String(s.shard.index) }),
          el("td", { text: count(s.objects) }), el("td", { text: bytes(s.bytes) }), el("td", { text: count(s.copies) }), el("td", { text: bytes(s.copyBytes) }))));
        $("plan").hidden = false;
        $("start").disabled = false;
      } catch (e) { show("form-error", e.message, true); } finally { $("preview").disabled = false; }
    });
    $("job-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const v = await api("POST", "/api/jobs", form());
        location.href = "/jobs/" + encodeURIComponent(v.id);
      } catch (err) { show("form-error", err.message, true); }
    });
  }

  // ---- schedules ----
  if (page.page === "schedules") {
    const operator = page.operator === "true";
    const refresh = poll(async () => {
      const rows = await api("GET", "/api/schedules");
      const trs = rows.map((s) => {
        const actions = el("td", {});
        if (operator) {
          const del = el("button", { type: "button", class: "danger", "data-delete": s.id, text: "Delete…" });
          const yes = el("button", { type: "button", class: "danger", "data-confirm": s.id, text: "Yes, delete " + s.id });
          yes.hidden = true;
          del.addEventListener("click", () => { yes.hidden = false; });
          yes.addEventListener("click", async () => {
            try { await api("POST", "/api/schedules/" + encodeURIComponent(s.id) + "/delete"); $("action-result").textContent = "deleted schedule " + s.id; refresh(); }
            catch (e) { $("action-result").textContent = e.message; }
          });
          actions.append(del, " ", yes);
        }
        return el("tr", { "data-schedule": s.id }, el("td", { text: s.id }), el("td", { text: s.every }),
          el("td", { text: (s.next || []).slice(0, 2).map(when).join(", ") }),
          el("td", {}, ...(s.recent || []).map((id) => el("div", {}, jobLink(id)))), actions);
      });
      if (!trs.length) trs.push(el("tr", {}, el("td", { colspan: 5, text: "no schedule" })));
      // Keep an open confirmation: redraw only when the list changed.
      const key = JSON.stringify(rows.map((s) => [s.id, s.recent, s.next]));
      if ($("schedule-rows").dataset.key !== key) { $("schedule-rows").dataset.key = key; $("schedule-rows").replaceChildren(...trs); }
    });
  }
})();
