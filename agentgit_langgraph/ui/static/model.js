// Every key of the API's JSON that the pages read, and nothing else: when a key
// is renamed, this is the one file to change. Optional keys (status, intent,
// stats, fork nodes, interrupts, writes) are read when present.

const list = (value) => (Array.isArray(value) ? value : []);

/** Usage figures of a branch (`BranchStats`): {tokens, modelCalls, toolCalls} or null. */
export function stats(raw) {
  if (!raw || typeof raw !== "object") return null;
  const calls = raw.tool_calls;
  return {
    tokens: raw.total_tokens ?? null,
    modelCalls: raw.model_calls ?? null,
    // tool calls by tool name: their sum
    toolCalls: calls && typeof calls === "object" ? Object.values(calls).reduce((a, b) => a + b, 0) : calls ?? null,
  };
}

/** A session's stats (`SessionStats`): the figures of its total. */
export const sessionStats = (raw) => stats(raw?.total);

/** Reversal records: tool call id -> status (`reversed`, `failed`, `no_handler`, `pending`). */
export const reversalStates = (records) => new Map(list(records).map((r) => [r.tool_call_id, r.status]));

export const session = {
  id: (s) => s.session_id,
  name: (s) => s.session_name || `session ${s.session_id}`,
  owner: (s) => s.owner ?? String(s.user_id ?? ""),
  threads: (s) => s.thread_count ?? list(s.thread_ids).length,
  branches: (s) => s.branch_count ?? 0,
  checkpoints: (s) => s.total_checkpoints ?? 0,
  updated: (s) => s.updated_at ?? s.created_at ?? null,
  current: (s) => s.current_thread_id ?? null,
};

export const tree = {
  name: (t) => t.session_name || `session ${t.session_id}`,
  current: (t) => t.current_thread_id ?? null,
  roots: (t) => list(t.roots),
  branches: (t) => t.branch_count ?? 0,
  checkpoints: (t) => t.total_checkpoints ?? 0,
};

export const node = {
  kind: (n) => n.kind ?? "thread",
  // A fork lives inside its thread: it has its own id, the thread is its parent's.
  key: (n) => (n.kind === "fork" ? `fork:${n.fork_id}` : n.thread_id),
  thread: (n) => n.thread_id ?? null,
  label: (n) => n.label ?? n.name ?? n.short_id ?? n.fork_id ?? n.thread_id,
  name: (n) => n.name ?? null,
  shortId: (n) => n.short_id ?? n.fork_id ?? n.thread_id,
  children: (n) => list(n.children),
  branchStep: (n) => n.branch_step ?? null,
  branchCheckpoint: (n) => n.branch_checkpoint_id ?? null,
  count: (n) => n.checkpoint_count ?? 0,
  isCurrent: (n) => Boolean(n.is_current),
  isBranch: (n) => Boolean(n.is_branch),
  tags: (n) => list(n.tags),
  status: (n) => n.status ?? null,
  intent: (n) => n.intent ?? null,
  stats: (n) => stats(n.stats),
  created: (n) => n.created_at ?? null,
};

/** Whether the server records a branch's intent (its tree's nodes carry the key). */
export const recordsIntent = (t) => list(t.roots).some((n) => "intent" in n);

export const tag = {
  name: (t) => t.name,
  checkpoint: (t) => t.checkpoint_id,
};

export const entry = {
  id: (e) => e.checkpoint_id,
  thread: (e) => e.thread_id,
  step: (e) => e.step,
  source: (e) => e.source ?? "",
  preview: (e) => e.preview ?? "",
  tags: (e) => list(e.tags),
  created: (e) => e.created_at ?? null,
};

/** A checkpoint's address: a `{configurable: {...}}` config or the flat form. */
export const config = {
  thread: (c) => c?.configurable?.thread_id ?? c?.thread_id ?? null,
  checkpoint: (c) => c?.configurable?.checkpoint_id ?? c?.checkpoint_id ?? null,
};

export const checkpoint = {
  id: (c) => c.config?.configurable?.checkpoint_id ?? c.checkpoint_id ?? null,
  thread: (c) => c.config?.configurable?.thread_id ?? c.thread_id ?? null,
  values: (c) => c.values ?? {},
  next: (c) => list(c.next),
  interrupts: (c) => c.interrupts ?? null,
  writes: (c) => c.writes ?? c.pending_writes ?? null,
  metadata: (c) => c.metadata ?? {},
  created: (c) => c.created_at ?? null,
  parent: (c) => c.parent_checkpoint_id ?? null,
  unresolved: (c) => list(c.unresolved),
};

/** The messages of a state's values (the `messages` channel), else null. */
export const messagesOf = (values) => (Array.isArray(values?.messages) ? values.messages : null);

export const message = {
  type: (m) => m.type ?? m.role ?? "message",
  name: (m) => m.name ?? null,
  text: (m) => {
    const content = m.content;
    if (typeof content === "string") return content;
    if (Array.isArray(content)) {
      return content
        .map((part) => (typeof part === "string" ? part : part?.text ?? JSON.stringify(part)))
        .join("\n");
    }
    return content == null ? "" : JSON.stringify(content);
  },
  toolCalls: (m) => list(m.tool_calls),
  toolCallId: (m) => m.tool_call_id ?? null,
};

export const toolCall = {
  id: (c) => c.id ?? null,
  name: (c) => c.name ?? "tool",
  args: (c) => c.args ?? {},
};

export const diff = {
  added: (d) => d.added ?? {},
  removed: (d) => d.removed ?? {},
  changed: (d) => d.changed ?? {},
  unchanged: (d) => list(d.unchanged),
  unresolved: (d) => list(d.unresolved),
  a: (d) => d.a ?? null,
  b: (d) => d.b ?? null,
  // A channel's change: {commonPrefix, aOnly, bOnly} for message lists, else null.
  messages: (change) => {
    const m = change?.messages;
    if (!m || !("common_prefix" in m)) return null;
    return { commonPrefix: m.common_prefix, aOnly: list(m.a_only), bOnly: list(m.b_only) };
  },
  before: (change) => (change && "a" in change ? change.a : undefined),
  after: (change) => (change && "b" in change ? change.b : undefined),
};

export const branchMade = {
  thread: (r) => r.thread_id,
};

export const failure = {
  kind: (body) => body?.error ?? "Error",
  detail: (body) => body?.detail ?? "",
};

// The request bodies the pages send.
export const requests = {
  rollback: (ref, name, intent, reverseTools) => {
    const body = { ref, reverse_tools: Boolean(reverseTools) };
    if (name) body.name = name;
    if (intent) body.intent = intent;
    return body;
  },
  switchTo: (thread) => ({ thread }),
  tag: (ref, name) => ({ ref, name }),
  status: (thread, status, reason) => (reason ? { thread, status, reason } : { thread, status }),
};

export const paths = {
  sessions: () => "/sessions",
  tree: (sid) => `/sessions/${sid}/tree`,
  stats: (sid) => `/sessions/${sid}/stats`,
  reversals: (sid) => `/sessions/${sid}/reversals`,
  log: (sid) => `/sessions/${sid}/log`,
  checkpoint: (sid, ref) => `/sessions/${sid}/checkpoints/${encodeURIComponent(ref)}`,
  diff: (sid) => `/sessions/${sid}/diff`,
  rollback: (sid) => `/sessions/${sid}/rollback`,
  switchTo: (sid) => `/sessions/${sid}/switch`,
  tags: (sid) => `/sessions/${sid}/tags`,
  status: (sid) => `/sessions/${sid}/status`,
};
