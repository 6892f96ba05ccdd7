// promptrail trace viewer: a list of recent traces and one trace as a waterfall with details.
// Log content is untrusted: it only ever reaches the page as text (textContent / text nodes),
// never as HTML. Hash routes: #/?path=&errors=1&since=1h&session=&user=&tag= (list),
// #/trace/<id>?log=<id> (trace), #/session/<id> (a session's traces as one conversation).
"use strict";
(function () {
  const params = new URLSearchParams(location.search);
  const POLL_MS = Math.max(200, Number(params.get("poll")) || 2000);
  const ROLES = ["system", "user", "assistant", "tool", "developer"];
  const KINDS = ["prompt", "flow", "tool"];
  const main = document.getElementById("main");
  const live = document.getElementById("live");

  let view = null; // the route on screen
  let cursor = null; // the store cursor of what is on screen
  let seen = null; // trace ids listed before (to mark new rows)
  let traceData = null; // the trace on screen
  let busy = false;

  // -- DOM helpers (text only) ------------------------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "style") Object.assign(node.style, value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function fill(node, ...children) {
    node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
    return node;
  }

  function traceHref(id, logId) {
    return "#/trace/" + encodeURIComponent(id) + (logId ? "?log=" + encodeURIComponent(logId) : "");
  }

  function sessionHref(id) {
    return "#/session/" + encodeURIComponent(id);
  }

  function sessionLink(id) {
    return el("a", { href: sessionHref(id), class: "chip session-link", title: "this session's traces, as one conversation" }, "session " + id);
  }

  function kindBadge(kind) {
    const known = KINDS.includes(kind) ? kind : "other";
    return el("span", { class: "badge kind-" + known }, kind);
  }

  // -- formatting -------------------------------------------------------------------------------

  function fmtDuration(seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) return "?";
    if (seconds < 0.01) return (seconds * 1000).toFixed(2) + "ms";
    if (seconds < 1) return Math.round(seconds * 1000) + "ms";
    if (seconds < 60) return seconds.toFixed(2) + "s";
    const m = Math.floor(seconds / 60);
    return m + "m" + String(Math.round(seconds - m * 60)).padStart(2, "0") + "s";
  }

  function fmtCost(cost) {
    if (cost === null || cost === undefined) return "";
    if (cost >= 1) return "$" + cost.toFixed(2);
    if (cost >= 0.01) return "$" + cost.toFixed(4);
    return "$" + cost.toFixed(6);
  }

  function fmtTokens(prompt, output) {
    if ((prompt === null || prompt === undefined) && (output === null || output === undefined)) return "";
    return (prompt || 0) + " → " + (output || 0);
  }

  function fmtTime(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    const time = d.toLocaleTimeString([], { hour12: false });
    return d.toDateString() === new Date().toDateString() ? time : d.toLocaleDateString() + " " + time;
  }

  function ago(iso) {
    const s = (Date.now() - new Date(iso).getTime()) / 1000;
    if (!(s >= 0)) return "";
    if (s < 60) return Math.round(s) + "s ago";
    if (s < 3600) return Math.round(s / 60) + "m ago";
    if (s < 86400) return Math.round(s / 3600) + "h ago";
    return Math.round(s / 86400) + "d ago";
  }

  function pretty(value) {
    return el("pre", { class: "json" }, JSON.stringify(value, null, 2));
  }

  function logDuration(log) {
    if (typeof log.provider_latency === "number") return log.provider_latency;
    if (log.end_time) return Math.max(0, (Date.parse(log.end_time) - Date.parse(log.start_time)) / 1000);
    return null;
  }

  function logCost(log) {
    if (log.prompt_cost == null && log.output_cost == null) return null;
    return (log.prompt_cost || 0) + (log.output_cost || 0);
  }

  // -- data -------------------------------------------------------------------------------------

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (!response.ok) {
      let message = response.status + " " + response.statusText;
      try {
        message = (await response.json()).error || message;
      } catch (e) {
        /* not JSON */
      }
      throw new Error(message);
    }
    return response.json();
  }

  function route() {
    const hash = location.hash.replace(/^#/, "") || "/";
    const cut = hash.indexOf("?");
    const path = cut < 0 ? hash : hash.slice(0, cut);
    const query = new URLSearchParams(cut < 0 ? "" : hash.slice(cut + 1));
    if (path.startsWith("/trace/")) {
      return { name: "trace", id: decodeURIComponent(path.slice(7)), log: query.get("log") };
    }
    if (path.startsWith("/session/")) {
      return { name: "session", id: decodeURIComponent(path.slice(9)) };
    }
    return {
      name: "list",
      path: query.get("path") || "",
      errors: query.get("errors") === "1",
      since: query.get("since") || "",
      session: query.get("session") || "",
      user: query.get("user") || "",
      tag: query.get("tag") || "",
    };
  }

  function listHash(v) {
    const q = new URLSearchParams();
    if (v.path) q.set("path", v.path);
    if (v.errors) q.set("errors", "1");
    if (v.since) q.set("since", v.since);
    if (v.session) q.set("session", v.session);
    if (v.user) q.set("user", v.user);
    if (v.tag) q.set("tag", v.tag);
    const s = q.toString();
    return "#/" + (s ? "?" + s : "");
  }

  function setLive(ok, detail) {
    live.className = "live " + (ok ? "ok" : "down");
    live.textContent = ok ? "live · updated " + new Date().toLocaleTimeString([], { hour12: false }) : "offline · " + detail;
  }

  function problem(message) {
    return el("div", { class: "problem" }, message);
  }

  // -- list -------------------------------------------------------------------------------------

  function renderListShell(v) {
    const pathInput = el("input", {
      type: "search",
      id: "filter-path",
      placeholder: "path or folder, e.g. support/",
      value: v.path,
    });
    let timer = null;
    pathInput.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => navigateList({ path: pathInput.value.trim() }), 350);
    });
    const errors = el("input", { type: "checkbox", id: "filter-errors", checked: v.errors });
    errors.addEventListener("change", () => navigateList({ errors: errors.checked }));
    const since = el(
      "select",
      { id: "filter-since" },
      [["", "any time"], ["15m", "last 15 minutes"], ["1h", "last hour"], ["24h", "last 24 hours"], ["7d", "last 7 days"]].map(
        ([value, label]) => el("option", { value: value, selected: v.since === value }, label)
      )
    );
    if (v.since && ![...since.options].some((o) => o.value === v.since)) {
      since.append(el("option", { value: v.since, selected: true }, "since " + v.since));
    }
    since.addEventListener("change", () => navigateList({ since: since.value }));
    const textFilter = (name, placeholder) => {
      const input = el("input", { type: "search", id: "filter-" + name, placeholder: placeholder, value: v[name], size: "12" });
      let wait = null;
      input.addEventListener("input", () => {
        clearTimeout(wait);
        wait = setTimeout(() => navigateList({ [name]: input.value.trim() }), 350);
      });
      return input;
    };
    main.replaceChildren(
      el(
        "form",
        { class: "filters", onsubmit: (e) => e.preventDefault() },
        el("label", { class: "grow" }, "Path ", pathInput),
        el("label", {}, "Session ", textFilter("session", "session id")),
        el("label", {}, "User ", textFilter("user", "user")),
        el("label", {}, "Tag ", textFilter("tag", "tag")),
        el("label", {}, errors, " errors only"),
        el("label", {}, "Time ", since)
      ),
      el("div", { id: "trace-list", class: "card" }, el("p", { class: "empty" }, "Loading…"))
    );
  }

  function navigateList(change) {
    const next = Object.assign({}, view, change);
    history.replaceState(null, "", listHash(next));
    view = next;
    seen = null;
    refresh();
  }

  async function refreshList(v) {
    const q = new URLSearchParams({ limit: "100" });
    if (v.path) q.set("path", v.path);
    if (v.errors) q.set("errors", "1");
    if (v.since) q.set("since", v.since);
    if (v.session) q.set("session_id", v.session);
    if (v.user) q.set("user", v.user);
    if (v.tag) q.set("tag", v.tag);
    const box = document.getElementById("trace-list");
    let data;
    try {
      data = await getJSON("ui/api/traces?" + q.toString());
    } catch (e) {
      box.replaceChildren(problem("Could not load traces: " + e.message));
      return;
    }
    if (view !== v) return; // navigated away meanwhile
    cursor = data.cursor;
    const first = seen === null;
    const before = seen || new Set();
    seen = new Set(data.traces.map((t) => t.trace_id));
    if (!data.traces.length) {
      box.replaceChildren(el("p", { class: "empty" }, "No traces match. Decorate a function, run it, and it shows up here."));
      return;
    }
    const rows = data.traces.map((t) => {
      // The trace's span (first start to last end): a streamed child may end after its root.
      const duration = t.end_time ? Math.max(t.latency || 0, (Date.parse(t.end_time) - Date.parse(t.start_time)) / 1000) : t.latency;
      const status = t.errors
        ? el("span", { class: "status bad", title: t.error || "" }, "✗ " + t.errors + (t.errors === 1 ? " error" : " errors"))
        : el("span", { class: "status good" }, "✓ ok");
      const row = el(
        "tr",
        {
          class: "trace-row" + (t.errors ? " has-error" : "") + (!first && !before.has(t.trace_id) ? " new" : ""),
          dataset: { traceId: t.trace_id },
          onclick: (e) => {
            if (e.target.tagName !== "A") location.hash = traceHref(t.trace_id);
          },
        },
        el("td", { class: "when", title: t.start_time }, fmtTime(t.start_time), el("small", {}, ago(t.start_time))),
        el(
          "td",
          { class: "path" },
          kindBadge(t.kind),
          el("a", { href: traceHref(t.trace_id), class: "trace-link" }, t.path),
          t.complete ? null : el("small", { class: "muted" }, " (in progress)"),
          t.session_id ? el("a", { href: sessionHref(t.session_id), class: "session-tag", title: "session" }, t.session_id) : null,
          t.user ? el("small", { class: "muted user-tag" }, " · " + t.user) : null,
          t.preview ? el("div", { class: "preview", title: t.preview }, t.preview) : null
        ),
        el("td", { class: "num" }, t.logs),
        el("td", { class: "num" }, fmtDuration(duration)),
        el("td", { class: "num" }, fmtTokens(t.prompt_tokens, t.output_tokens)),
        el("td", { class: "num" }, fmtCost(t.cost)),
        el("td", {}, status, (t.scores || []).length ? el("span", { class: "score-dot", title: t.scores.map(scoreSummaryText).join("\n") }, " ★" + t.scores.length) : null)
      );
      return row;
    });
    box.replaceChildren(
      el(
        "table",
        { class: "traces" },
        el(
          "thead",
          {},
          el("tr", {}, ["Started", "Trace", "Logs", "Duration", "Tokens", "Cost", "Status"].map((h) => el("th", {}, h)))
        ),
        el("tbody", {}, rows)
      )
    );
  }

  // -- session: its traces in order, as one conversation ------------------------------------------

  async function refreshSession(v) {
    let data;
    try {
      data = await getJSON("ui/api/sessions/" + encodeURIComponent(v.id));
    } catch (e) {
      main.replaceChildren(el("a", { href: "#/", class: "back" }, "← all traces"), problem("Could not load session " + v.id + ": " + e.message));
      return;
    }
    if (view !== v) return;
    cursor = data.cursor;
    const traces = data.traces;
    const errors = traces.reduce((s, t) => s + t.errors, 0);
    const costs = traces.map((t) => t.cost).filter((c) => c !== null && c !== undefined);
    const users = [...new Set(traces.map((t) => t.user).filter((u) => u))];
    const turns = traces.map((t, i) =>
      el(
        "div",
        { class: "turn" + (t.errors ? " has-error" : ""), dataset: { traceId: t.trace_id } },
        el(
          "div",
          { class: "turn-head" },
          el("span", { class: "turn-n" }, "#" + (i + 1)),
          kindBadge(t.kind),
          el("a", { href: traceHref(t.trace_id), class: "trace-link" }, t.path),
          el("small", { class: "muted", title: t.start_time }, " " + fmtTime(t.start_time) + " · " + fmtDuration(t.latency)),
          t.errors ? el("span", { class: "status bad", title: t.error || "" }, " ✗ " + t.errors) : null
        ),
        t.preview ? el("div", { class: "msg role-user" }, el("div", { class: "msg-role" }, "input" + (t.user ? " · " + t.user : "")), el("div", { class: "text" }, t.preview)) : null,
        t.reply ? el("div", { class: "msg role-assistant reply" }, el("div", { class: "msg-role" }, "output"), el("div", { class: "text" }, t.reply)) : null,
        (t.scores || []).length ? el("div", { class: "turn-scores" }, t.scores.map((sc) => el("div", { class: "score" }, "★ " + scoreSummaryText(sc)))) : null
      )
    );
    main.replaceChildren(
      el(
        "div",
        { class: "trace-head" },
        el("a", { href: listHash({ session: v.id }), class: "back" }, "← this session's traces"),
        el("h1", {}, "Session " + v.id),
        el(
          "div",
          { class: "chips" },
          el("span", { class: "chip" }, traces.length + (traces.length === 1 ? " trace" : " traces")),
          users.length ? el("span", { class: "chip" }, "user " + users.join(", ")) : null,
          traces.length ? el("span", { class: "chip" }, fmtTime(traces[0].start_time) + " → " + fmtTime(traces[traces.length - 1].start_time)) : null,
          costs.length ? el("span", { class: "chip" }, fmtCost(costs.reduce((a, b) => a + b, 0))) : null,
          errors ? el("span", { class: "chip bad" }, "✗ " + errors + (errors === 1 ? " error" : " errors")) : null
        )
      ),
      el("div", { id: "conversation", class: "card chat conversation" }, turns)
    );
  }

  // -- trace ------------------------------------------------------------------------------------

  function tree(logs) {
    const ids = new Set(logs.map((l) => l.log_id));
    const children = new Map();
    const sorted = logs.slice().sort((a, b) => (a.start_time < b.start_time ? -1 : a.start_time > b.start_time ? 1 : a.log_id < b.log_id ? -1 : 1));
    for (const log of sorted) {
      const parent = log.trace_parent_id && ids.has(log.trace_parent_id) ? log.trace_parent_id : null;
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(log);
    }
    const out = [];
    (function walk(parent, depth) {
      for (const log of children.get(parent) || []) {
        out.push({ log: log, depth: depth });
        walk(log.log_id, depth + 1);
      }
    })(null, 0);
    return out;
  }

  // Round tick marks (1, 2 or 5 × 10^k ms apart), about four across the span.
  function niceTicks(span) {
    const raw = span / 4;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
    const ticks = [];
    for (let t = 0; t <= span * 1.0001; t += step) ticks.push(t);
    return ticks;
  }

  async function refreshTrace(v) {
    let data;
    try {
      data = await getJSON("ui/api/traces/" + encodeURIComponent(v.id));
    } catch (e) {
      main.replaceChildren(el("a", { href: "#/", class: "back" }, "← all traces"), problem("Could not load trace " + v.id + ": " + e.message));
      return;
    }
    if (view !== v) return;
    cursor = data.cursor;
    const same = traceData && traceData.trace_id === data.trace_id && document.getElementById("waterfall");
    if (same && JSON.stringify(traceData.logs) === JSON.stringify(data.logs)) return; // nothing new here
    traceData = data;
    // Scores (evaluator logs) are shown on the log they judge, not as rows of the timeline.
    const timed = data.logs.filter((l) => l.kind !== "evaluator");
    const logs = timed.length ? timed : data.logs;
    const rows = tree(logs);
    const starts = logs.map((l) => Date.parse(l.start_time));
    const t0 = Math.min(...starts);
    const t1 = Math.max(...logs.map((l, i) => starts[i] + (logDuration(l) || 0) * 1000));
    const span = Math.max(t1 - t0, 1);
    const root = data.logs.find((l) => l.log_id === l.trace_id) || rows[0].log;
    if (!v.log || !data.logs.some((l) => l.log_id === v.log)) v.log = root.log_id;

    const errors = data.logs.filter((l) => l.error).length;
    const costs = data.logs.map(logCost).filter((c) => c !== null);
    const promptTokens = data.logs.reduce((s, l) => s + (l.prompt_tokens || 0), 0);
    const outputTokens = data.logs.reduce((s, l) => s + (l.output_tokens || 0), 0);
    const header = el(
      "div",
      { class: "trace-head" },
      el("a", { href: "#/", class: "back" }, "← all traces"),
      el("h1", {}, kindBadge(root.kind), root.path),
      el(
        "div",
        { class: "chips" },
        el("span", { class: "chip", title: "trace id" }, "trace " + data.trace_id),
        root.session_id ? sessionLink(root.session_id) : null,
        root.user ? el("span", { class: "chip" }, "user " + root.user) : null,
        el("span", { class: "chip" }, fmtTime(root.start_time)),
        el("span", { class: "chip" }, fmtDuration(span / 1000)),
        el("span", { class: "chip" }, data.logs.length + (data.logs.length === 1 ? " log" : " logs")),
        promptTokens || outputTokens ? el("span", { class: "chip" }, fmtTokens(promptTokens, outputTokens) + " tokens") : null,
        costs.length ? el("span", { class: "chip" }, fmtCost(costs.reduce((a, b) => a + b, 0))) : null,
        errors ? el("span", { class: "chip bad" }, "✗ " + errors + (errors === 1 ? " error" : " errors")) : null
      )
    );

    const ticks = niceTicks(span).map((ms) =>
      el("span", { class: "tick", style: { left: (ms / span) * 100 + "%" } }, ms ? fmtDuration(ms / 1000) : "0")
    );
    const waterfall = el(
      "div",
      { id: "waterfall", class: "card waterfall", role: "tree" },
      el("div", { class: "wf-row wf-axis" }, el("div", { class: "wf-name" }, "Log"), el("div", { class: "wf-track" }, ticks)),
      rows.map(({ log, depth }) => {
        const start = (Date.parse(log.start_time) - t0) / span;
        const width = ((logDuration(log) || 0) * 1000) / span;
        const select = () => selectLog(log.log_id);
        return el(
          "div",
          {
            class: "wf-row" + (log.error ? " has-error" : "") + (log.log_id === v.log ? " selected" : ""),
            role: "treeitem",
            tabindex: "0",
            dataset: { logId: log.log_id, depth: String(depth) },
            onclick: select,
            onkeydown: (e) => {
              if (e.key === "Enter" || e.key === " ") {
                e.preventDefault();
                select();
              }
            },
          },
          el(
            "div",
            { class: "wf-name", style: { paddingLeft: 8 + depth * 18 + "px" } },
            depth ? el("span", { class: "elbow", "aria-hidden": "true" }, "└") : null,
            kindBadge(log.kind),
            el("span", { class: "wf-path" }, log.path),
            log.error ? el("span", { class: "err-dot", title: log.error }, "✗") : null,
            scoresOf(log.log_id).length ? el("span", { class: "score-dot", title: scoresOf(log.log_id).map(scoreText).join("\n") }, "★" + scoresOf(log.log_id).length) : null
          ),
          el(
            "div",
            { class: "wf-track" },
            el("div", {
              class: "wf-bar kind-" + (KINDS.includes(log.kind) ? log.kind : "other"),
              style: { left: start * 100 + "%", width: Math.max(width * 100, 0.4) + "%" },
            }),
            start + width <= 0.8
              ? el("span", { class: "wf-dur", style: { left: (start + width) * 100 + "%" } }, fmtDuration(logDuration(log)))
              : el("span", { class: "wf-dur inside", style: { right: (1 - start - width) * 100 + "%" } }, fmtDuration(logDuration(log)))
          )
        );
      })
    );
    const detail = el("aside", { id: "detail", class: "card detail" });
    main.replaceChildren(header, el("div", { class: "trace-layout" }, waterfall, detail));
    renderDetail(v.log);
  }

  function selectLog(logId) {
    if (!view || view.name !== "trace") return;
    view.log = logId;
    history.replaceState(null, "", traceHref(view.id, logId));
    for (const row of document.querySelectorAll(".wf-row[data-log-id]")) {
      row.classList.toggle("selected", row.dataset.logId === logId);
    }
    renderDetail(logId);
  }

  function field(label, value) {
    if (value === null || value === undefined || value === "") return null;
    return [el("dt", {}, label), el("dd", {}, value)];
  }

  function section(title, ...body) {
    const content = body.flat(Infinity).filter((b) => b !== null && b !== undefined);
    if (!content.length) return null;
    return el("section", { class: "block" }, el("h3", {}, title), content);
  }

  function contentNodes(content) {
    if (content === null || content === undefined) return [];
    if (typeof content === "string") return [el("div", { class: "text" }, content)];
    return content.map((part) => {
      if (part && part.type === "text" && typeof part.text === "string") return el("div", { class: "text" }, part.text);
      return pretty(part); // images and other parts: shown as data, never loaded
    });
  }

  function toolCallNode(call) {
    let args = call.function && call.function.arguments;
    try {
      args = JSON.stringify(JSON.parse(args), null, 2);
    } catch (e) {
      /* keep the raw text */
    }
    const answer = call.id ? answeringLog(call.id) : null;
    return el(
      "div",
      { class: "tool-call" },
      el("span", { class: "fn" }, "→ " + ((call.function && call.function.name) || "?") + "()"),
      call.id ? el("small", { class: "muted call-id" }, " " + call.id) : null,
      answer ? el("a", { href: traceHref(answer.trace_id, answer.log_id), class: "answered-by", onclick: (e) => { e.preventDefault(); selectLog(answer.log_id); } }, " answered by " + answer.path) : null,
      args ? el("pre", { class: "json" }, args) : null
    );
  }

  function message(m, extra) {
    const role = ROLES.includes(m.role) ? m.role : "other";
    return el(
      "div",
      { class: "msg role-" + role + (extra ? " " + extra : "") },
      el("div", { class: "msg-role" }, m.role + (m.name ? " · " + m.name : ""), m.tool_call_id ? el("small", {}, " result of " + m.tool_call_id) : null),
      m.thinking ? el("details", { class: "thinking" }, el("summary", {}, "thinking"), el("div", { class: "text" }, m.thinking)) : null,
      contentNodes(m.content),
      (m.tool_calls || []).map(toolCallNode)
    );
  }

  const TOOL_CALL_KEY = "tool_call_id";

  // The tool log answering a model's tool call, and the prompt log that asked for it.
  function answeringLog(callId) {
    if (!traceData) return null;
    return traceData.logs.find((l) => l.kind === "tool" && l.metadata && l.metadata[TOOL_CALL_KEY] === callId) || null;
  }

  function askingLog(callId) {
    if (!traceData) return null;
    return (
      traceData.logs.find((l) => l.output_message && (l.output_message.tool_calls || []).some((c) => c.id === callId)) || null
    );
  }

  function toolCallField(log) {
    const callId = log.kind === "tool" && log.metadata ? log.metadata[TOOL_CALL_KEY] : null;
    if (typeof callId !== "string" || !callId) return null;
    const asking = askingLog(callId);
    const value = asking
      ? el("a", { href: traceHref(asking.trace_id, asking.log_id), class: "tool-call-link", onclick: (e) => { e.preventDefault(); selectLog(asking.log_id); } }, callId + " (from " + asking.path + ")")
      : callId;
    return field("Tool call", value);
  }

  function scoresOf(logId) {
    if (!traceData) return [];
    return traceData.logs.filter((l) => l.kind === "evaluator" && (l.parent_id || l.trace_parent_id) === logId);
  }

  // A score as a trace summary lists it (name, value, source, comment).
  function scoreSummaryText(sc) {
    return scoreText({ path: sc.name, judgment: sc.value, source: sc.source, metadata: { comment: sc.comment } });
  }

  function scoreText(s) {
    const value = typeof s.judgment === "boolean" ? (s.judgment ? "👍 true" : "👎 false") : String(s.judgment);
    const comment = s.metadata && typeof s.metadata.comment === "string" ? " — " + s.metadata.comment : "";
    return s.path + " = " + value + (s.source ? " (" + s.source + ")" : "") + comment;
  }

  const TRACEBACK_KEY = "error_traceback";

  function tracebackOf(log) {
    const text = log.metadata && log.metadata[TRACEBACK_KEY];
    return typeof text === "string" && text ? text : null;
  }

  // The metadata without what the panel shows elsewhere (the traceback); null when empty.
  function shownMetadata(log) {
    const rest = Object.assign({}, log.metadata || {});
    delete rest[TRACEBACK_KEY];
    return Object.keys(rest).length ? rest : null;
  }

  // A tool's dict or list result is stored as JSON text (output is a string): shown as data.
  function outputNode(text) {
    if (/^\s*[[{]/.test(text)) {
      try {
        const value = JSON.parse(text);
        if (value !== null && typeof value === "object") return el("pre", { class: "json output-json" }, JSON.stringify(value, null, 2));
      } catch (e) {
        /* not JSON: plain text */
      }
    }
    return el("div", { class: "text" }, text);
  }

    function renderDetail(logId) {
    const panel = document.getElementById("detail");
    const log = traceData && traceData.logs.find((l) => l.log_id === logId);
    if (!panel || !log) return;
    const prompt = log.prompt || {};
    const reply = log.output_message
      ? message(log.output_message, "reply")
      : log.output !== undefined && log.output !== null
        ? el("div", { class: "msg role-assistant reply" }, el("div", { class: "msg-role" }, "output"), outputNode(log.output))
        : null;
    fill(
      panel,
      el("h2", {}, kindBadge(log.kind), log.path),
      log.error
        ? el(
            "div",
            { class: "error-box", role: "alert" },
            el("strong", {}, "Error"),
            el("pre", {}, log.error),
            tracebackOf(log) ? el("details", { class: "traceback", open: true }, el("summary", {}, "Traceback"), el("pre", {}, tracebackOf(log))) : null
          )
        : null,
      section("Feedback", scoresOf(log.log_id).map((s) => el("div", { class: "score" }, "★ " + scoreText(s)))),
      el(
        "dl",
        { class: "facts" },
        field("Duration", fmtDuration(logDuration(log))),
        toolCallField(log),
        field("Model", prompt.model ? prompt.model + (prompt.provider ? " (" + prompt.provider + ")" : "") : null),
        field("Tokens", fmtTokens(log.prompt_tokens, log.output_tokens) + (log.reasoning_tokens ? " (" + log.reasoning_tokens + " reasoning)" : "")),
        field("Cost", fmtCost(logCost(log))),
        field("Finish", log.finish_reason),
        field("Started", log.start_time),
        field("Ended", log.end_time),
        field("Log id", log.log_id),
        field("Environment", log.environment),
        field("User", log.user),
        field("Session", log.session_id),
        field("Tags", (log.tags || []).join(", ")),
        field("Version", log.version_id)
      ),
      section("Messages", log.messages && log.messages.length ? el("div", { class: "chat" }, log.messages.map((m) => message(m))) : null),
      section("Output", reply ? el("div", { class: "chat" }, reply) : null),
      section("Inputs", log.inputs && Object.keys(log.inputs).length ? pretty(log.inputs) : null),
      section("Metadata", shownMetadata(log) ? pretty(shownMetadata(log)) : null),
      section("Prompt", log.prompt ? pretty(log.prompt) : null),
      section("Stdout", log.stdout ? el("pre", {}, log.stdout) : null),
      section("Provider request", log.provider_request ? pretty(log.provider_request) : null),
      section("Provider response", log.provider_response ? pretty(log.provider_response) : null)
    );
  }

  // -- routing and polling ----------------------------------------------------------------------

  let again = false;

  async function refresh() {
    if (busy) {
      again = true; // a navigation or poll came in meanwhile: run once more afterwards
      return;
    }
    busy = true;
    try {
      do {
        again = false;
        if (view.name === "trace") await refreshTrace(view);
        else if (view.name === "session") await refreshSession(view);
        else await refreshList(view);
      } while (again);
      setLive(true);
      document.body.dataset.cursor = String(cursor);
    } finally {
      busy = false;
    }
  }

  function show() {
    const next = route();
    if (next.name === "list") {
      if (!view || view.name !== "list") {
        seen = null;
        renderListShell(next);
      }
      view = next;
    } else {
      if (!view || view.name !== next.name || view.id !== next.id) main.replaceChildren(el("p", { class: "empty" }, "Loading…"));
      view = next;
    }
    document.body.dataset.view = view.name;
    refresh();
  }

  async function poll() {
    try {
      const data = await getJSON("ui/api/cursor");
      setLive(true);
      if (data.cursor !== cursor) await refresh();
    } catch (e) {
      setLive(false, e.message);
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  window.addEventListener("hashchange", show);
  show();
  setTimeout(poll, POLL_MS);
})();
