/* The explorer page, after TensorFlow Playground's state.ts: one state object
 * (the run shown, the runs side by side, the epoch, the table's order) that the
 * address fragment mirrors; every control writes the state; render() draws
 * everything from it. The data is the JSON of #replay-data; each run's frames
 * are an H.264 video (base64 in <script id="video-N">), seeked to the middle of
 * frame k to show snapshot k. */
"use strict";

(function () {
  const DATA = JSON.parse(document.getElementById("replay-data").textContent);
  const RUNS = DATA.runs;
  const BY_LABEL = new Map(RUNS.map((run, index) => [run.label, index]));
  const HPARAMS = DATA.hparams; // {name: [values present]}
  const MIN_SIDE_BY_SIDE = 4;
  const PLAY_INTERVAL_MS = 100;
  const SVG = "http://www.w3.org/2000/svg";

  // Every epoch any run has a snapshot at: the clock the slider moves on.
  // (Epoch 0 alone when no run holds a snapshot: a run stopped before its first.)
  const CLOCK = Array.from(new Set([...RUNS.flatMap((run) => run.epochs)]))
    .sort((a, b) => a - b);
  if (!CLOCK.length) CLOCK.push(0);

  // -- the state, and its address fragment --------------------------------------

  const FIELDS = {
    run: { parse: (text) => (BY_LABEL.has(text) ? text : undefined), format: (v) => v },
    epoch: { parse: (text) => (Number.isFinite(Number(text)) ? Number(text) : undefined),
             format: (v) => String(v) },
    runs: { parse: (text) => text.split(",").filter((label) => BY_LABEL.has(label)),
            format: (v) => v.join(",") },
    sort: { parse: (text) => text, format: (v) => v },
    desc: { parse: (text) => text === "1", format: (v) => (v ? "1" : "0") },
    curve: { parse: (text) => text, format: (v) => v },
  };

  const framed = RUNS.filter((run) => run.video);
  const state = {
    run: null,
    epoch: CLOCK[CLOCK.length - 1],
    runs: contrastingRuns(MIN_SIDE_BY_SIDE),
    sort: DATA.objective ? "final:" + DATA.objective : "label",
    desc: !DATA.lower_is_better,
    curve: DATA.curve_keys[0] || "loss",
  };
  state.run = state.runs[0] || RUNS[0].label;

  // The runs side by side at first: the best run by the objective, then each
  // time the run whose hyperparameters differ most from those already chosen
  // (relu next to tanh and sigmoid, rather than three seeds of one).
  function contrastingRuns(count) {
    const value = (run) => run.final[DATA.objective];
    const ranked = framed.slice().sort((a, b) => {
      const [x, y] = [value(a), value(b)];
      if (x === undefined || x === null || y === undefined || y === null) return (x == null) - (y == null);
      return DATA.lower_is_better ? x - y : y - x;
    });
    const chosen = ranked.slice(0, 1);
    const differences = (run) => chosen.reduce((total, other) => total + Object.keys(HPARAMS)
      .filter((name) => run.hparams[name] !== other.hparams[name]).length, 0);
    while (chosen.length < Math.min(count, ranked.length)) {
      let best = null;
      for (const run of ranked) {
        if (chosen.includes(run)) continue;
        if (best === null || differences(run) > differences(best)) best = run;
      }
      chosen.push(best);
    }
    return chosen.map((run) => run.label);
  }

  function readFragment() {
    const params = new URLSearchParams(window.location.hash.slice(1));
    for (const [name, field] of Object.entries(FIELDS)) {
      if (!params.has(name)) continue;
      const value = field.parse(params.get(name));
      if (value !== undefined) state[name] = value;
    }
    state.epoch = nearestClockEpoch(state.epoch);
  }

  function writeFragment() {
    const params = new URLSearchParams();
    for (const [name, field] of Object.entries(FIELDS)) params.set(name, field.format(state[name]));
    // A readable address: keep the commas of the run list and the colons of the sort key.
    const text = "#" + params.toString().replace(/%2C/g, ",").replace(/%3A/g, ":");
    if (window.location.hash === text) return;
    try {
      history.replaceState(null, "", text);
    } catch (error) {
      // A page inside a notebook's <iframe srcdoc> may not have an address to
      // write (origin "null"); the state still drives the page.
      if (error.name !== "SecurityError") throw error;
    }
  }

  function setState(changes) {
    Object.assign(state, changes);
    state.epoch = nearestClockEpoch(state.epoch);
    writeFragment();
    render();
  }

  function nearestClockEpoch(epoch) {
    let best = CLOCK[0];
    for (const value of CLOCK) if (Math.abs(value - epoch) < Math.abs(best - epoch)) best = value;
    return best;
  }

  // The snapshot of a run shown at an epoch of the clock: its last one at or before it.
  function snapshotAt(run, epoch) {
    let index = 0;
    for (let k = 0; k < run.epochs.length; k++) if (run.epochs[k] <= epoch + 1e-9) index = k;
    return index;
  }

  // -- the frames: one video per run, decoded from base64 when first needed ------

  const videoUrls = new Map();
  function videoUrl(index) {
    if (!videoUrls.has(index)) {
      const text = document.getElementById("video-" + index).textContent.trim();
      const binary = atob(text);
      const bytes = new Uint8Array(binary.length);
      for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
      videoUrls.set(index, URL.createObjectURL(new Blob([bytes], { type: "video/mp4" })));
    }
    return videoUrls.get(index);
  }

  // Show snapshot `snapshot` of run `index` in `video`; whether a seek was started
  // (its "seeked" event comes once the frame is on screen).
  function showFrame(video, index, snapshot) {
    const run = RUNS[index];
    const url = videoUrl(index);
    const time = (snapshot + 0.5) / run.video.fps;
    video.dataset.wanted = index + ":" + snapshot;
    if (video.dataset.url !== url) {
      video.dataset.url = url;
      video.dataset.shown = "";
      video.src = url;
    }
    if (video.dataset.shown === video.dataset.wanted) return false;
    const seek = () => { video.currentTime = time; };
    if (video.readyState >= 1) seek();
    else video.addEventListener("loadedmetadata", seek, { once: true });
    return true;
  }

  function watchFrames(video, onShown) {
    video.addEventListener("seeked", () => {
      const [index, snapshot] = video.dataset.wanted.split(":").map(Number);
      const run = RUNS[index];
      const shown = Math.floor(video.currentTime * run.video.fps);
      if (shown !== snapshot) return; // a newer seek is on its way
      video.dataset.shown = video.dataset.wanted;
      video.dataset.snapshot = String(snapshot);
      if (onShown) requestAnimationFrame(() => onShown(snapshot));
    });
  }

  // -- controls write the state ---------------------------------------------------

  const $ = (id) => document.getElementById(id);
  const slider = $("epoch-slider");
  const mainVideo = $("frame");
  let stepStarted = null;
  // Milliseconds since navigation: the controls working, the first frame on screen; steps.
  const timing = { interactiveMs: null, readyMs: null, lastStepMs: null, steps: [] };

  slider.max = String(CLOCK.length - 1);
  slider.addEventListener("input", () => {
    stepStarted = performance.now();
    setState({ epoch: CLOCK[Number(slider.value)] });
  });
  $("step-back").addEventListener("click", () => step(-1));
  $("step-forward").addEventListener("click", () => step(1));
  $("play").addEventListener("click", () => togglePlay());
  $("curve-key").addEventListener("change", (event) => setState({ curve: event.target.value }));

  function clockIndex() { return CLOCK.indexOf(state.epoch); }

  function step(by) {
    const index = Math.min(CLOCK.length - 1, Math.max(0, clockIndex() + by));
    stepStarted = performance.now();
    setState({ epoch: CLOCK[index] });
  }

  let player = null;
  function togglePlay() {
    if (player !== null) {
      clearInterval(player);
      player = null;
    } else {
      if (clockIndex() === CLOCK.length - 1) setState({ epoch: CLOCK[0] });
      player = setInterval(() => {
        if (clockIndex() >= CLOCK.length - 1) togglePlay();
        else step(1);
      }, PLAY_INTERVAL_MS);
    }
    renderPlayButton();
  }

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const typing = target.tagName === "SELECT" || (target.tagName === "INPUT" && target !== slider);
    if (typing || event.altKey || event.ctrlKey || event.metaKey) return;
    const moves = { ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1 };
    if (event.key in moves) step(moves[event.key]);
    else if (event.key === "Home") setState({ epoch: CLOCK[0] });
    else if (event.key === "End") setState({ epoch: CLOCK[CLOCK.length - 1] });
    else if (event.key === " " && target.tagName !== "BUTTON") togglePlay();
    else return;
    event.preventDefault();
  });

  window.addEventListener("hashchange", () => { readFragment(); render(); });
  window.addEventListener("resize", () => { drawn = null; render(); });

  watchFrames(mainVideo, () => {
    if (multiplesWaiting) {
      multiplesWaiting = false;
      renderMultiples();
    }
    if (stepStarted !== null) {
      timing.lastStepMs = performance.now() - stepStarted;
      timing.steps.push(timing.lastStepMs);
      stepStarted = null;
    }
    if (timing.readyMs === null) timing.readyMs = performance.now();
    document.body.dataset.shownEpoch = String(state.epoch);
  });

  // -- the hyperparameter controls: one per hyperparameter, from the values present

  function buildHparamControls() {
    const box = $("hparam-controls");
    for (const [name, values] of Object.entries(HPARAMS)) {
      if (values.length < 2) continue;
      const id = "hparam-" + name.replace(/[^A-Za-z0-9_-]/g, "_");
      const label = document.createElement("label");
      label.htmlFor = id;
      label.textContent = name;
      const select = document.createElement("select");
      select.id = id;
      select.dataset.hparam = name;
      for (const value of values) {
        const option = document.createElement("option");
        option.value = JSON.stringify(value);
        option.textContent = value === null ? "none" : formatHparam(value);
        select.appendChild(option);
      }
      select.addEventListener("change", () => {
        const picked = JSON.parse(select.value);
        const current = RUNS[BY_LABEL.get(state.run)].hparams;
        const run = closestRun(name, picked, current);
        if (run) setState({ run: run.label });
      });
      box.append(label, select);
    }
  }

  // The run with `name` = `value` that shares most other hyperparameters with `current`.
  function closestRun(name, value, current) {
    let best = null;
    let bestShared = -1;
    for (const run of RUNS) {
      if (run.hparams[name] !== value) continue;
      let shared = 0;
      for (const [key, other] of Object.entries(current)) if (run.hparams[key] === other) shared++;
      if (run.video) shared += 0.5; // prefer a run with frames
      if (shared > bestShared) { best = run; bestShared = shared; }
    }
    return best;
  }

  // -- the table --------------------------------------------------------------

  const COLUMNS = [
    { key: "side", title: "Side by side", sortable: false },
    { key: "label", title: "Run", value: (run) => run.label },
    ...Object.keys(HPARAMS).map((name) => ({
      key: "hparam:" + name, title: name, value: (run) => run.hparams[name],
      format: formatHparam })),
    ...DATA.final_keys.map((name) => ({
      key: "final:" + name, title: "final " + name, value: (run) => run.final[name],
      format: (value) => (value === null || value === undefined ? "" : Number(value).toPrecision(4)) })),
    { key: "reached", title: "epoch of " + DATA.target_label, value: (run) => run.reached },
    { key: "complete", title: "complete", value: (run) => (run.complete ? "yes" : "no") },
    { key: "flags", title: "diagnosis", value: (run) => run.findings.map((f) => f.tag).join(", ") },
  ];

  function buildTable() {
    const head = document.querySelector("#results thead");
    const row = document.createElement("tr");
    for (const column of COLUMNS) {
      const cell = document.createElement("th");
      cell.scope = "col";
      cell.dataset.key = column.key;
      if (column.sortable === false) {
        cell.textContent = column.title;
      } else {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = column.title;
        button.addEventListener("click", () => {
          const desc = state.sort === column.key ? !state.desc : false;
          setState({ sort: column.key, desc: desc });
        });
        cell.appendChild(button);
      }
      row.appendChild(cell);
    }
    head.appendChild(row);
    const body = document.querySelector("#results tbody");
    for (const run of RUNS) {
      const line = document.createElement("tr");
      line.dataset.label = run.label;
      for (const column of COLUMNS) {
        const cell = document.createElement("td");
        if (column.key === "side") {
          const box = document.createElement("input");
          box.type = "checkbox";
          box.disabled = !run.video;
          box.setAttribute("aria-label", "show " + run.label + " side by side");
          box.addEventListener("click", (event) => event.stopPropagation());
          box.addEventListener("change", () => {
            const runs = state.runs.filter((label) => label !== run.label);
            if (box.checked) runs.push(run.label);
            setState({ runs: runs });
          });
          cell.appendChild(box);
        } else {
          const value = column.value(run);
          cell.textContent = column.format ? column.format(value)
            : (value === null || value === undefined ? "" : String(value));
          if (column.key === "flags") cell.className = "flags";
        }
        line.appendChild(cell);
      }
      line.addEventListener("click", () => setState({ run: run.label }));
      body.appendChild(line);
    }
  }

  const missing = (value) => value === null || value === undefined || value === "";

  // Missing values go last whatever the direction.
  function compare(a, b, desc) {
    if (missing(a) || missing(b)) return Number(missing(a)) - Number(missing(b));
    const order = typeof a === "number" && typeof b === "number" ? a - b
      : String(a).localeCompare(String(b), undefined, { numeric: true });
    return desc ? -order : order;
  }

  function renderTable() {
    const column = COLUMNS.find((c) => c.key === state.sort && c.value) || COLUMNS[1];
    for (const cell of document.querySelectorAll("#results th")) {
      if (cell.dataset.key === column.key) cell.setAttribute("aria-sort", state.desc ? "descending" : "ascending");
      else cell.removeAttribute("aria-sort");
    }
    const body = document.querySelector("#results tbody");
    const rows = Array.from(body.rows);
    rows.sort((a, b) => compare(column.value(RUNS[BY_LABEL.get(a.dataset.label)]),
                                column.value(RUNS[BY_LABEL.get(b.dataset.label)]), state.desc));
    for (const row of rows) {
      body.appendChild(row);
      row.classList.toggle("selected", row.dataset.label === state.run);
      row.setAttribute("aria-selected", row.dataset.label === state.run ? "true" : "false");
      const box = row.querySelector("input");
      box.checked = state.runs.includes(row.dataset.label);
    }
  }

  // -- the curves: every run's history in one SVG chart -------------------------

  function renderCurves() {
    const key = state.curve;
    const box = $("curves");
    // Drawn at the width it is shown at, so that its text stays legible on a phone.
    const width = Math.max(300, Math.min(1100, box.clientWidth || 900));
    const height = Math.round(Math.min(320, Math.max(200, width * 0.4)));
    const left = 60, right = 12, top = 12, bottom = 36;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", `${key} against epoch, every run; ${state.run} highlighted`);
    let low = Infinity, high = -Infinity;
    for (const run of RUNS) for (const value of run.history[key] || []) {
      if (value !== null) { low = Math.min(low, value); high = Math.max(high, value); }
    }
    const lastEpoch = CLOCK[CLOCK.length - 1] || 1;
    if (!Number.isFinite(low)) { low = 0; high = 1; }
    if (high === low) high = low + 1;
    const x = (epoch) => left + (epoch / lastEpoch) * (width - left - right);
    const y = (value) => top + (1 - (value - low) / (high - low)) * (height - top - bottom);
    const add = (name, attributes, text) => {
      const node = document.createElementNS(SVG, name);
      for (const [attribute, value] of Object.entries(attributes)) node.setAttribute(attribute, value);
      if (text !== undefined) node.textContent = text;
      svg.appendChild(node);
      return node;
    };
    add("line", { class: "axis", x1: left, x2: width - right, y1: height - bottom, y2: height - bottom });
    add("line", { class: "axis", x1: left, x2: left, y1: top, y2: height - bottom });
    for (const value of niceTicks(low, high, 5)) {
      add("text", { x: left - 6, y: y(value) + 4, "text-anchor": "end" }, String(Number(value.toPrecision(3))));
    }
    for (const epoch of niceTicks(0, lastEpoch, 6)) {
      add("text", { x: x(epoch), y: height - bottom + 16, "text-anchor": "middle" }, String(epoch));
    }
    add("text", { x: (left + width) / 2, y: height - 4, "text-anchor": "middle" }, "epoch");
    add("text", { x: width - right - 4, y: top + 12, "text-anchor": "end" }, key);
    const order = RUNS.map((run, index) => index);
    const rank = (run) => (run.label === state.run ? 2 : state.runs.includes(run.label) ? 1 : 0);
    order.sort((a, b) => rank(RUNS[a]) - rank(RUNS[b])); // the selected run drawn last, on top
    for (const index of order) {
      const run = RUNS[index];
      const values = run.history[key];
      if (!values) continue;
      const points = [];
      values.forEach((value, i) => {
        if (value !== null) points.push(`${x(run.history.epoch[i]).toFixed(1)},${y(value).toFixed(1)}`);
      });
      const kind = ["run", "run side", "run selected"][rank(run)];
      const line = add("polyline", { class: kind, points: points.join(" ") });
      const title = document.createElementNS(SVG, "title");
      title.textContent = run.label;
      line.appendChild(title);
    }
    add("line", { class: "now", x1: x(state.epoch), x2: x(state.epoch), y1: top, y2: height - bottom });
    box.replaceChildren(svg);
    moveNowLine = () => {
      const line = svg.querySelector(".now");
      line.setAttribute("x1", x(state.epoch));
      line.setAttribute("x2", x(state.epoch));
    };
  }
  let moveNowLine = () => {};

  // -- the player, the summary and the side-by-side pictures -------------------

  function renderPlayer() {
    const index = BY_LABEL.get(state.run);
    const run = RUNS[index];
    const snapshot = snapshotAt(run, state.epoch);
    $("shown-run").textContent = run.label;
    $("shown-epoch").textContent = "epoch " + formatEpoch(run.epochs[snapshot]);
    $("epoch-output").textContent = "Epoch " + formatEpoch(state.epoch) + " of " + formatEpoch(CLOCK[CLOCK.length - 1]);
    slider.value = String(clockIndex());
    slider.setAttribute("aria-valuetext", "epoch " + formatEpoch(state.epoch));
    document.body.dataset.epoch = String(state.epoch);
    document.body.dataset.run = run.label;
    $("no-frames").hidden = Boolean(run.video);
    mainVideo.hidden = !run.video;
    if (!run.video) return false;
    mainVideo.setAttribute("aria-label", `${DATA.picture} of ${run.label} at epoch ${formatEpoch(run.epochs[snapshot])}`);
    return showFrame(mainVideo, index, snapshot);
  }

  function renderMarks() {
    const run = RUNS[BY_LABEL.get(state.run)];
    const marks = $("marks");
    marks.replaceChildren();
    const last = CLOCK[CLOCK.length - 1] || 1;
    for (const finding of run.findings) {
      const mark = document.createElement("span");
      mark.className = "mark " + finding.severity;
      mark.style.left = (100 * finding.epochs[0] / last) + "%";
      mark.title = `${finding.tag}: ${finding.message}`;
      marks.appendChild(mark);
    }
  }

  function renderSummary() {
    const run = RUNS[BY_LABEL.get(state.run)];
    const rows = [["run", run.label], ["file", run.file + " : " + run.run]];
    // Hyperparameters with a control above are not repeated.
    for (const [name, value] of Object.entries(run.hparams)) {
      if ((HPARAMS[name] || []).length < 2) rows.push([name, value === null ? "none" : formatHparam(value)]);
    }
    const last = run.epochs[run.epochs.length - 1];
    rows.push(["epochs", formatEpoch(last) + (run.complete ? " (complete)" : " (not complete)")
               + (run.stopped_early ? ", stopped early" : "")]);
    for (const [name, value] of Object.entries(run.final)) {
      rows.push(["final " + name, value === null ? "NaN" : Number(value).toPrecision(4)]);
    }
    // A regression (or a run recorded without metrics) has no accuracy to reach.
    if ("accuracy" in run.history) {
      rows.push([DATA.target_label + " at", run.reached === null ? "not reached" : "epoch " + run.reached]);
    }
    const list = $("summary-list");
    list.replaceChildren();
    for (const [name, value] of rows) {
      const term = document.createElement("dt");
      term.textContent = name;
      const detail = document.createElement("dd");
      detail.textContent = value;
      list.append(term, detail);
    }
    const findings = $("findings");
    findings.replaceChildren();
    if (!run.findings.length) {
      const item = document.createElement("li");
      item.textContent = "Nothing found.";
      findings.appendChild(item);
    }
    for (const finding of run.findings) {
      const item = document.createElement("li");
      const severity = document.createElement("span");
      severity.className = finding.severity;
      severity.textContent = finding.tag;
      const jump = document.createElement("button");
      jump.type = "button";
      const [first, lastEpoch] = finding.epochs;
      jump.textContent = first === lastEpoch ? `epoch ${formatEpoch(first)}` : `epochs ${formatEpoch(first)}–${formatEpoch(lastEpoch)}`;
      jump.addEventListener("click", () => setState({ epoch: first }));
      item.append(severity, " ", jump, ` ${finding.layer ? "(" + finding.layer + ") " : ""}${finding.message}. Helps: ${finding.advice}`);
      findings.appendChild(item);
    }
    for (const select of document.querySelectorAll("#hparam-controls select")) {
      const value = run.hparams[select.dataset.hparam];
      select.value = JSON.stringify(value === undefined ? null : value);
    }
  }

  const tiles = new Map();
  function renderMultiples() {
    const box = $("multiples");
    const shown = state.runs.filter((label) => RUNS[BY_LABEL.get(label)].video);
    for (const [label, tile] of tiles) {
      if (!shown.includes(label)) { tile.remove(); tiles.delete(label); }
    }
    for (const label of shown) {
      let tile = tiles.get(label);
      if (!tile) {
        tile = document.createElement("figure");
        tile.className = "tile";
        tile.tabIndex = 0;
        tile.dataset.label = label;
        tile.setAttribute("role", "button");
        const video = document.createElement("video");
        video.muted = true;
        video.playsInline = true;
        video.preload = "auto";
        watchFrames(video);
        const caption = document.createElement("p");
        tile.append(video, caption);
        const choose = () => setState({ run: label });
        tile.addEventListener("click", choose);
        tile.addEventListener("keydown", (event) => {
          if (event.key === "Enter") { choose(); event.preventDefault(); event.stopPropagation(); }
        });
        tiles.set(label, tile);
      }
      box.appendChild(tile); // keeps the order of state.runs
      const index = BY_LABEL.get(label);
      const run = RUNS[index];
      const snapshot = snapshotAt(run, state.epoch);
      tile.classList.toggle("selected", label === state.run);
      tile.querySelector("p").textContent = `${label} — epoch ${formatEpoch(run.epochs[snapshot])}`;
      showFrame(tile.querySelector("video"), index, snapshot);
    }
    $("multiples-section").hidden = shown.length === 0 || RUNS.length < 2;
  }

  function renderPlayButton() {
    const button = $("play");
    button.innerHTML = player === null ? "&#9654;" : "&#10074;&#10074;";
    button.setAttribute("aria-label", player === null ? "Play" : "Pause");
  }

  // About `count` round values (1, 2 or 5 times a power of ten) from low to high.
  function niceTicks(low, high, count) {
    const raw = (high - low) / Math.max(1, count - 1);
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const stepSize = [1, 2, 5, 10].map((f) => f * power).find((s) => s >= raw);
    const ticks = [];
    for (let value = Math.ceil(low / stepSize) * stepSize; value <= high + 1e-9 * stepSize; value += stepSize) {
      ticks.push(Math.abs(value) < 1e-12 ? 0 : value);
    }
    return ticks;
  }

  // A searched float (e.g. a log-uniform learning rate 0.011482254) shows 4
  // significant digits; integers, strings and booleans as they are.
  function formatHparam(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "number" && !Number.isInteger(value)) return String(Number(value.toPrecision(4)));
    return String(value);
  }

  function formatEpoch(epoch) {
    if (epoch === undefined) return "none";
    return Number.isInteger(epoch) ? String(epoch) : epoch.toFixed(2);
  }

  // The one function that draws the page from the state. A step of the
  // epoch alone (the slider, play) redraws only what shows the epoch.
  // On such a step the pictures side by side seek once the large one is on
  // screen: it gets the decoder first.
  let drawn = null;
  let multiplesWaiting = false;
  function render() {
    const rest = Object.assign({}, state);
    delete rest.epoch;
    const key = JSON.stringify(rest);
    const seeking = renderPlayer();
    if (key === drawn) {
      moveNowLine();
      multiplesWaiting = seeking;
      if (!seeking) renderMultiples();
      return;
    }
    drawn = key;
    multiplesWaiting = false;
    renderMultiples();
    renderMarks();
    renderSummary();
    renderCurves();
    renderTable();
  }

  // -- start ----------------------------------------------------------------------

  function start() {
    $("page-subtitle").textContent = DATA.subtitle;
    $("table-note").textContent = DATA.frames_note;
    const keys = $("curve-key");
    for (const key of DATA.curve_keys) {
      const option = document.createElement("option");
      option.value = key;
      option.textContent = key;
      keys.appendChild(option);
    }
    if (RUNS.length < 2) {
      for (const id of ["multiples-section", "table-section"]) $(id).hidden = true;
    }
    buildHparamControls();
    buildTable();
    readFragment();
    writeFragment();
    keys.value = state.curve;
    render();
    timing.interactiveMs = performance.now();
    if (!RUNS[BY_LABEL.get(state.run)].video) timing.readyMs = performance.now();
  }

  window.replayExplorer = { state: state, setState: setState, timing: timing, clock: CLOCK };
  start();
})();
