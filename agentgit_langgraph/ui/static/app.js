// The pages and the hash router: #/ sessions, #/s/SID graph, #/s/SID/t/THREAD
// conversation, #/s/SID/c/REF checkpoint, #/s/SID/diff/A/B diff.
import { canWrite, get, post } from "./api.js";
import { h, json, short, when } from "./dom.js";
import { draw, layout } from "./graph.js";
import * as M from "./model.js";

const view = document.getElementById("view");
const crumbs = document.getElementById("crumbs");
const enc = encodeURIComponent;
let generation = 0; // a page drawn for an older URL is dropped
let panelShown = 0; // likewise a branch's checkpoints, when another lane was picked since
let intentRecorded = false; // learnt from the last tree read

// -- chrome: theme, mode, errors, breadcrumbs ---------------------------------

const themeButton = document.getElementById("theme");
function applyTheme(theme) {
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}
applyTheme(localStorage.getItem("agentgit-theme"));
themeButton.addEventListener("click", () => {
  const dark =
    document.documentElement.dataset.theme === "dark" ||
    (!document.documentElement.dataset.theme && matchMedia("(prefers-color-scheme: dark)").matches);
  const next = dark ? "light" : "dark";
  localStorage.setItem("agentgit-theme", next);
  applyTheme(next);
});
document.getElementById("mode").textContent = canWrite ? "write" : "read-only";
document.getElementById("mode").classList.add(canWrite ? "write" : "read");

const errorBox = document.getElementById("error");
function showError(err) {
  errorBox.hidden = false;
  errorBox.replaceChildren(h("strong", {}, "Failed: "), String(err?.message ?? err));
}
function clearError() {
  errorBox.hidden = true;
  errorBox.replaceChildren();
}

function setCrumbs(...items) {
  const parts = [h("a", { href: "#/" }, "sessions")];
  for (const [label, href] of items) {
    parts.push(h("span", { class: "sep" }, "/"));
    parts.push(href ? h("a", { href }, label) : h("span", {}, label));
  }
  crumbs.replaceChildren(...parts);
}

// -- two checkpoints picked for a diff, kept across pages of one session -------

const picks = { sid: null, a: null, b: null };
function pick(sid, side, ref, label) {
  if (picks.sid !== sid) Object.assign(picks, { sid, a: null, b: null });
  picks[side] = { ref, label };
  showPicks();
}
function showPicks() {
  const bar = document.getElementById("picks");
  bar.hidden = !(picks.a || picks.b);
  document.getElementById("pick-a").textContent = picks.a?.label ?? "-";
  document.getElementById("pick-b").textContent = picks.b?.label ?? "-";
  const go = document.getElementById("pick-go");
  const ready = picks.a && picks.b;
  go.setAttribute("aria-disabled", ready ? "false" : "true");
  go.href = ready ? `#/s/${picks.sid}/diff/${enc(picks.a.ref)}/${enc(picks.b.ref)}` : "#";
}
document.getElementById("pick-clear").addEventListener("click", () => {
  Object.assign(picks, { a: null, b: null });
  showPicks();
});

// -- pieces shared by pages ---------------------------------------------------

function section(title, ...body) {
  return h("section", { class: "card" }, h("h2", {}, title), ...body);
}

function renderMessage(m, reversals = new Map()) {
  const type = M.message.type(m);
  const calls = M.message.toolCalls(m);
  const replyTo = M.message.toolCallId(m);
  return h(
    "article",
    { class: `msg msg-${String(type).replace(/[^a-z]/gi, "")}` },
    h("header", {}, h("span", { class: "role" }, type), M.message.name(m) ? ` ${M.message.name(m)}` : "", replyTo ? h("span", { class: "dim" }, ` ← ${replyTo}`) : ""),
    h("div", { class: "text" }, M.message.text(m)),
    calls.length
      ? h(
          "ul",
          { class: "calls" },
          calls.map((call) => {
            const reversal = reversals.get(M.toolCall.id(call));
            return h(
              "li",
              {},
              h("code", {}, `${M.toolCall.name(call)}(${JSON.stringify(M.toolCall.args(call))})`),
              M.toolCall.id(call) ? h("span", { class: "dim" }, ` ${M.toolCall.id(call)}`) : "",
              reversal ? h("span", { class: `badge reversal reversal-${reversal.replace(/[^a-z_]/g, "")}` }, `undo: ${reversal}`) : "",
            );
          }),
        )
      : "",
  );
}

function renderValues(values) {
  const messages = M.messagesOf(values);
  const others = Object.entries(values).filter(([key]) => !(key === "messages" && messages));
  return [
    messages ? h("div", { class: "conversation" }, messages.map((m) => renderMessage(m))) : "",
    others.length ? h("dl", { class: "channels" }, others.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, json(v))])) : "",
  ];
}

/** A thread's checkpoints (newest first), each with A/B picks, open, and a rollback. */
function historyList(sid, entries, onChange) {
  return h(
    "ol",
    { class: "history" },
    entries.map((e) => {
      const id = M.entry.id(e);
      const label = `${short(id)} (step ${M.entry.step(e)})`;
      const row = h(
        "li",
        { "data-checkpoint": id },
        h("div", { class: "line" },
          h("span", { class: "step" }, `#${M.entry.step(e)}`),
          h("a", { href: `#/s/${sid}/c/${enc(id)}`, class: "preview" }, M.entry.preview(e) || "(no message)"),
          M.entry.tags(e).map((t) => h("span", { class: "tag" }, `#${t}`)),
        ),
        h("div", { class: "actions" },
          h("button", { type: "button", class: "pick-a", onclick: () => pick(sid, "a", id, label) }, "A"),
          h("button", { type: "button", class: "pick-b", onclick: () => pick(sid, "b", id, label) }, "B"),
          canWrite ? h("button", { type: "button", class: "rollback-open", onclick: () => row.append(rollbackForm(sid, id, onChange)) }, "Roll back here…") : "",
          canWrite ? h("button", { type: "button", class: "tag-open", onclick: () => row.append(tagForm(sid, id, onChange)) }, "Tag…") : "",
        ),
      );
      return row;
    }),
  );
}

// An inline form that posts what `send()` returns, then hands the answer on;
// on a refusal the form stays, with the error shown.
function inlineForm(cls, fields, label, send, done) {
  const form = h(
    "form",
    {
      class: `inline ${cls}`,
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          const answer = await send();
          form.remove();
          done(answer);
        } catch (err) {
          showError(err);
        }
      },
    },
    ...fields,
    h("button", { type: "submit" }, label),
  );
  return form;
}

function rollbackForm(sid, ref, onChange) {
  const name = h("input", { name: "name", placeholder: "branch name (optional)", "aria-label": "Branch name" });
  const intent = h("input", {
    name: "intent",
    placeholder: intentRecorded ? "intent: why this branch (optional)" : "intent (not recorded by this server)",
    "aria-label": "Intent",
    disabled: !intentRecorded,
  });
  const reverse = h("input", { type: "checkbox", name: "reverse_tools" });
  const send = () => post(M.paths.rollback(sid), M.requests.rollback(ref, name.value.trim(), intent.value.trim(), reverse.checked));
  const fields = [name, intent, h("label", {}, reverse, " undo tool calls after it")];
  return inlineForm("rollback", fields, "Roll back", send, (made) => onChange(M.branchMade.thread(made)));
}

function tagForm(sid, ref, onChange) {
  const name = h("input", { name: "tag", placeholder: "tag name", required: true, "aria-label": "Tag name" });
  const send = () => post(M.paths.tags(sid), M.requests.tag(ref, name.value.trim()));
  return inlineForm("tag-form", [name], "Tag", send, () => onChange(null));
}

function statusForm(sid, thread, current, onChange) {
  const choice = h(
    "select",
    { name: "status", "aria-label": "Status" },
    ...["active", "kept", "abandoned"].map((s) => h("option", s === current ? { value: s, selected: true } : { value: s }, s)),
  );
  const reason = h("input", { name: "reason", placeholder: "why (optional)", "aria-label": "Reason" });
  const send = () => post(M.paths.status(sid), M.requests.status(thread, choice.value, reason.value.trim()));
  return inlineForm("status-form", [choice, reason], "Set", send, () => onChange(thread));
}

async function threadHistory(sid, thread, count) {
  return get(M.paths.log(sid), { ref: thread, limit: Math.min(Math.max(count, 1), 500) });
}

// -- pages ----------------------------------------------------------------------

async function sessionsPage() {
  setCrumbs();
  const sessions = await get(M.paths.sessions());
  const search = h("input", { type: "search", id: "filter", placeholder: "Filter by name, owner or id", "aria-label": "Filter sessions" });
  const body = h("tbody");
  const tokenCells = new Map();
  const rows = sessions.map((s) => {
    const tokens = h("td", { class: "num opt tokens" }, "…");
    tokenCells.set(M.session.id(s), tokens);
    const tr = h(
      "tr",
      { "data-session": M.session.id(s) },
      h("td", { class: "num" }, M.session.id(s)),
      h("td", {}, h("a", { href: `#/s/${M.session.id(s)}` }, M.session.name(s))),
      h("td", {}, M.session.owner(s)),
      h("td", { class: "num" }, M.session.threads(s)),
      h("td", { class: "num" }, M.session.branches(s)),
      h("td", { class: "num" }, M.session.checkpoints(s)),
      tokens,
      h("td", { class: "opt" }, when(M.session.updated(s))),
    );
    tr.dataset.search = `${M.session.id(s)} ${M.session.name(s)} ${M.session.owner(s)}`.toLowerCase();
    return tr;
  });
  body.append(...rows);
  search.addEventListener("input", () => {
    const needle = search.value.trim().toLowerCase();
    for (const tr of rows) tr.hidden = Boolean(needle) && !tr.dataset.search.includes(needle);
  });
  const head = ["id", "name", "owner", "threads", "branches", "checkpoints", "tokens", "last activity"];
  view.replaceChildren(
    h("h1", {}, "Sessions"),
    search,
    sessions.length
      ? h("table", { class: "sessions" }, h("thead", {}, h("tr", {}, head.map((c, i) => h("th", { class: i >= 6 ? "opt" : "" }, c)))), body)
      : h("p", { class: "empty" }, "No sessions."),
  );
  fillTokens(tokenCells);
  return "sessions";
}

// Tokens read every checkpoint of a session: filled in after the page shows,
// a few sessions at a time, the first ones first.
async function fillTokens(cells, atOnce = 4, most = 200) {
  const queue = [...cells].slice(0, most);
  for (const [, cell] of [...cells].slice(most)) cell.textContent = "-";
  async function worker() {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [sid, cell] = next;
      try {
        cell.textContent = String(M.sessionStats(await get(M.paths.stats(sid)))?.tokens ?? "-");
      } catch {
        cell.textContent = "-";
      }
    }
  }
  await Promise.all(Array.from({ length: atOnce }, worker));
}

async function graphPage(sid, select) {
  // The tree first (store rows and parent links: fast at any size), each
  // branch's stats after it (they read every checkpoint), into the panel.
  const data = await get(M.paths.tree(sid));
  intentRecorded = M.recordsIntent(data);
  setCrumbs([M.tree.name(data), null]);
  const rows = layout(M.tree.roots(data));
  const svg = draw(rows);
  const panel = h("aside", { class: "panel", id: "panel" }, h("p", { class: "dim" }, "Pick a branch: click it, or use the arrow keys and Enter."));
  const scroller = h("div", { class: "graph-scroll", id: "graph" }, svg);
  const lanes = svg.querySelectorAll("g.lane");
  let focused = 0;
  const reload = (newThread) => route(newThread ? `#/s/${sid}?select=${enc(newThread)}` : undefined);

  const statsOf = new Map();
  const factsOf = (item) => {
    const st = statsOf.get(M.node.key(item)) ?? M.node.stats(item);
    const facts = [
      ["thread", M.node.thread(item)],
      ["kind", M.node.kind(item)],
      ["checkpoints", M.node.count(item)],
      ["branched at", M.node.branchCheckpoint(item) ? `${short(M.node.branchCheckpoint(item))} (step ${M.node.branchStep(item)})` : "-"],
      ["created", when(M.node.created(item))],
      ["status", M.node.status(item) ?? "-"],
      ["intent", M.node.intent(item) ?? "-"],
      ["tokens", st?.tokens ?? "-"],
      ["model calls", st?.modelCalls ?? "-"],
      ["tool calls", st?.toolCalls ?? "-"],
      ["tags", M.node.tags(item).map((t) => M.tag.name(t)).join(", ") || "-"],
    ];
    return h("dl", { class: "facts" }, facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]));
  };

  async function openPanel(index) {
    const item = rows[index].item;
    const thread = M.node.thread(item);
    const controls = h("div", { class: "actions" },
      h("a", { class: "button", href: `#/s/${sid}/t/${enc(thread)}` }, "Conversation"),
      canWrite && !M.node.isCurrent(item)
        ? h("button", { type: "button", id: "switch", onclick: async () => {
            try { await post(M.paths.switchTo(sid), M.requests.switchTo(thread)); reload(thread); } catch (err) { showError(err); }
          } }, "Make current")
        : "",
      canWrite
        ? h("button", { type: "button", class: "status-open", onclick: (event) => event.target.replaceWith(statusForm(sid, thread, M.node.status(item), reload)) }, "Set status…")
        : "",
    );
    panel.replaceChildren(
      h("h2", {}, M.node.label(item), M.node.isCurrent(item) ? h("span", { class: "badge current" }, "current") : ""),
      factsOf(item),
      controls,
      h("h3", {}, "Checkpoints"),
      h("p", { class: "dim" }, "Loading…"),
    );
    const mine = ++panelShown;
    const entries = await threadHistory(sid, thread, M.node.count(item));
    if (mine !== panelShown) return;
    const own = entries.filter((e) => M.entry.thread(e) === thread);
    panel.lastChild.replaceWith(historyList(sid, own, reload));
  }

  function focusRow(index, open = true) {
    if (index < 0 || index >= rows.length) return;
    lanes[focused].setAttribute("tabindex", "-1");
    lanes[focused].classList.remove("selected");
    focused = index;
    const lane = lanes[index];
    lane.setAttribute("tabindex", "0");
    lane.classList.add("selected");
    lane.focus({ preventScroll: true });
    lane.scrollIntoView?.({ block: "nearest", inline: "nearest" });
    if (open) openPanel(index).catch(showError);
  }

  svg.addEventListener("click", (event) => {
    const lane = event.target.closest?.("g.lane");
    if (lane) focusRow(Number(lane.dataset.row));
  });
  svg.addEventListener("dblclick", (event) => {
    const lane = event.target.closest?.("g.lane");
    if (lane) location.hash = `#/s/${sid}/t/${enc(M.node.thread(rows[Number(lane.dataset.row)].item))}`;
  });
  svg.addEventListener("keydown", (event) => {
    const row = rows[focused];
    const moves = {
      ArrowDown: focused + 1,
      ArrowUp: focused - 1,
      ArrowLeft: row.parent,
      ArrowRight: row.kids[0] ?? -1,
      Home: 0,
      End: rows.length - 1,
    };
    if (event.key in moves) {
      event.preventDefault();
      focusRow(moves[event.key]);
    } else if (event.key === "Enter") {
      event.preventDefault();
      location.hash = `#/s/${sid}/t/${enc(M.node.thread(row.item))}`;
    }
  });

  const current = M.tree.current(data);
  const summary = h("p", { class: "summary" },
    `${rows.length} lanes · ${M.tree.branches(data)} branches · ${M.tree.checkpoints(data)} checkpoints · current: `,
    h("code", {}, current ?? "-"),
  );
  view.replaceChildren(h("h1", {}, M.tree.name(data)), summary, h("div", { class: "graph-page" }, scroller, panel));
  svg.dataset.lanes = String(rows.length);
  const wanted = select ?? current;
  const start = rows.findIndex((r) => M.node.thread(r.item) === wanted && M.node.kind(r.item) !== "fork");
  focusRow(start >= 0 ? start : 0);
  get(M.paths.tree(sid), { stats: 1 })
    .then((full) => {
      const walk = (nodes) => nodes.forEach((n) => { statsOf.set(M.node.key(n), M.node.stats(n)); walk(M.node.children(n)); });
      walk(M.tree.roots(full));
      const shown = panel.querySelector("dl.facts");
      if (shown) shown.replaceWith(factsOf(rows[focused].item));
    })
    .catch(showError);
  return "graph";
}

async function conversationPage(sid, thread) {
  const [head, entries, data, reversals] = await Promise.all([
    get(M.paths.checkpoint(sid, thread)),
    get(M.paths.log(sid), { ref: thread, limit: 500 }),
    get(M.paths.tree(sid)),
    get(M.paths.reversals(sid)),
  ]);
  const undone = M.reversalStates(reversals);
  intentRecorded = M.recordsIntent(data);
  setCrumbs([`session ${sid}`, `#/s/${sid}`], [short(thread), null]);
  const values = M.checkpoint.values(head);
  const messages = M.messagesOf(values) ?? [];
  const reload = (newThread) => (newThread ? (location.hash = `#/s/${sid}?select=${enc(newThread)}`) : route());
  view.replaceChildren(
    h("h1", {}, "Conversation ", h("code", {}, short(thread))),
    h("p", { class: "summary" }, `${messages.length} messages · head `, h("a", { href: `#/s/${sid}/c/${enc(M.checkpoint.id(head))}` }, short(M.checkpoint.id(head))), ` · next: ${M.checkpoint.next(head).join(", ") || "-"}`),
    h("div", { class: "conversation", id: "conversation" }, messages.length ? messages.map((m) => renderMessage(m, undone)) : h("p", { class: "empty" }, "No messages.")),
    section("History (this branch, then where it came from)", historyList(sid, entries, reload)),
  );
  return "conversation";
}

async function checkpointPage(sid, ref) {
  const c = await get(M.paths.checkpoint(sid, ref));
  const id = M.checkpoint.id(c);
  const thread = M.checkpoint.thread(c);
  setCrumbs([`session ${sid}`, `#/s/${sid}`], [short(thread), `#/s/${sid}/t/${enc(thread)}`], [short(id), null]);
  const interrupts = M.checkpoint.interrupts(c);
  const writes = M.checkpoint.writes(c);
  const parent = M.checkpoint.parent(c);
  const label = `${short(id)} (${short(thread)})`;
  view.replaceChildren(
    h("h1", {}, "Checkpoint ", h("code", {}, short(id))),
    h("dl", { class: "facts" },
      h("dt", {}, "id"), h("dd", {}, id ?? "-"),
      h("dt", {}, "thread"), h("dd", {}, h("a", { href: `#/s/${sid}/t/${enc(thread)}` }, thread ?? "-")),
      h("dt", {}, "created"), h("dd", {}, when(M.checkpoint.created(c))),
      h("dt", {}, "parent"), h("dd", {}, parent ? h("a", { href: `#/s/${sid}/c/${enc(parent)}` }, short(parent)) : "-"),
      h("dt", {}, "next"), h("dd", {}, M.checkpoint.next(c).join(", ") || "-"),
    ),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "pick-a", onclick: () => pick(sid, "a", id, label) }, "Pick as A"),
      h("button", { type: "button", class: "pick-b", onclick: () => pick(sid, "b", id, label) }, "Pick as B"),
    ),
    section("State", ...renderValues(M.checkpoint.values(c)), M.checkpoint.unresolved(c).length ? h("p", { class: "dim" }, `not readable: ${M.checkpoint.unresolved(c).join(", ")}`) : ""),
    section("Interrupts", interrupts == null ? h("p", { class: "dim" }, "not reported by this server") : json(interrupts)),
    section("Metadata", json(M.checkpoint.metadata(c))),
    section("Pending writes", writes == null ? h("p", { class: "dim" }, "not reported by this server") : json(writes)),
  );
  return "checkpoint";
}

async function diffPage(sid, a, b) {
  const d = await get(M.paths.diff(sid), { a, b });
  setCrumbs([`session ${sid}`, `#/s/${sid}`], ["diff", null]);
  const side = (c) => (c ? `${short(M.config.checkpoint(c))} on ${short(M.config.thread(c))}` : "-");
  const changed = Object.entries(M.diff.changed(d));
  const keyed = (title, obj, cls) => {
    const entries = Object.entries(obj);
    return entries.length ? section(title, h("dl", { class: `channels ${cls}` }, entries.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, json(v))]))) : "";
  };
  view.replaceChildren(
    h("h1", {}, "Diff"),
    h("p", { class: "summary" }, "A: ", h("a", { href: `#/s/${sid}/c/${enc(a)}` }, side(M.diff.a(d)) ), " → B: ", h("a", { href: `#/s/${sid}/c/${enc(b)}` }, side(M.diff.b(d)))),
    changed.length || Object.keys(M.diff.added(d)).length || Object.keys(M.diff.removed(d)).length
      ? ""
      : h("p", { class: "empty", id: "no-change" }, "The two states are the same."),
    ...changed.map(([channel, change]) => {
      const messages = M.diff.messages(change);
      if (messages) {
        return section(
          `changed: ${channel}`,
          h("p", { class: "dim" }, `${messages.commonPrefix} messages in common, then:`),
          h("div", { class: "diff-cols" },
            h("div", { class: "only-a" }, h("h3", {}, `only in A (${messages.aOnly.length})`), messages.aOnly.map((m) => renderMessage(m))),
            h("div", { class: "only-b" }, h("h3", {}, `only in B (${messages.bOnly.length})`), messages.bOnly.map((m) => renderMessage(m))),
          ),
        );
      }
      return section(`changed: ${channel}`, json(change));
    }),
    keyed("only in B", M.diff.added(d), "added"),
    keyed("only in A", M.diff.removed(d), "removed"),
    M.diff.unchanged(d).length ? h("p", { class: "dim" }, `unchanged: ${M.diff.unchanged(d).join(", ")}`) : "",
    M.diff.unresolved(d).length ? h("p", { class: "dim" }, `not readable: ${M.diff.unresolved(d).join(", ")}`) : "",
  );
  return "diff";
}

// -- router ----------------------------------------------------------------------

async function route(hash = location.hash) {
  if (hash !== undefined && hash !== location.hash) {
    location.hash = hash;
    return;
  }
  const mine = ++generation;
  delete document.body.dataset.ready;
  clearError();
  const [path, query] = (location.hash.replace(/^#/, "") || "/").split("?");
  const params = new URLSearchParams(query ?? "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  let page = "none";
  try {
    if (parts.length === 0) page = await sessionsPage();
    else if (parts[0] === "s" && parts.length === 2) page = await graphPage(parts[1], params.get("select"));
    else if (parts[0] === "s" && parts[2] === "t") page = await conversationPage(parts[1], parts.slice(3).join("/"));
    else if (parts[0] === "s" && parts[2] === "c") page = await checkpointPage(parts[1], parts.slice(3).join("/"));
    else if (parts[0] === "s" && parts[2] === "diff") page = await diffPage(parts[1], parts[3], parts[4]);
    else view.replaceChildren(h("p", { class: "empty" }, "No such page."), h("a", { href: "#/" }, "sessions"));
  } catch (err) {
    if (mine === generation) showError(err);
    page = "error";
  }
  if (mine === generation) document.body.dataset.ready = page;
}

window.addEventListener("hashchange", () => route());
showPicks();
route();
