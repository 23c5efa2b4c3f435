// The branch graph: threads and in-thread forks as lanes (one row each, depth-first so a
// branch sits under its parent), checkpoints along x by step, and a connector from the
// branch point on the parent's lane. Linear in the branches: one pass to lay out, one
// DocumentFragment of ~5 elements per lane.
import { s } from "./dom.js";
import { node as N, tag as T } from "./model.js";

export const ROW = 26;
export const DX = 16;
const PAD = 14;
const MAX_DOTS = 60;

/** Rows in depth-first order: {item, depth, parent (row index or -1), start, end, index, kids (row indexes)}. */
export function layout(roots) {
  const rows = [];
  const stack = [];
  for (let i = roots.length - 1; i >= 0; i--) stack.push([roots[i], -1]);
  while (stack.length) {
    const [item, parent] = stack.pop();
    const parentRow = parent >= 0 ? rows[parent] : null;
    const at = N.branchStep(item);
    const start = at ?? (parentRow ? parentRow.start : -1);
    const count = Math.max(1, N.count(item));
    const index = rows.length;
    rows.push({ item, parent, depth: parentRow ? parentRow.depth + 1 : 0, start, end: start + count - 1, index, kids: [] });
    if (parentRow) parentRow.kids.push(index);
    const kids = N.children(item);
    for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], index]);
  }
  return rows;
}

function dots(x0, y, n) {
  const r = 4;
  let d = "";
  for (let i = 0; i < n; i++) {
    const x = x0 + i * DX;
    d += `M${x - r} ${y}a${r} ${r} 0 1 0 ${2 * r} 0a${r} ${r} 0 1 0 ${-2 * r} 0`;
  }
  return d;
}

function caption(item) {
  const parts = [`${N.count(item)} ckpt`];
  const status = N.status(item);
  if (status) parts.push(status);
  const st = N.stats(item);
  if (st?.tokens != null) parts.push(`${st.tokens} tok`);
  if (st?.modelCalls != null) parts.push(`${st.modelCalls} model`);
  if (st?.toolCalls != null) parts.push(`${st.toolCalls} tool`);
  const tags = N.tags(item).map((t) => `#${T.name(t)}`);
  return [parts.join(" · "), tags.join(" ")].filter(Boolean).join("  ");
}

/** The <svg> of `rows`; each lane a focusable <g data-row>. */
export function draw(rows) {
  let minStep = 0;
  let maxStep = 0;
  for (const row of rows) {
    minStep = Math.min(minStep, row.start);
    maxStep = Math.max(maxStep, Math.min(row.end, row.start + MAX_DOTS));
  }
  const x = (step) => PAD + (step - minStep) * DX;
  const y = (index) => PAD + index * ROW + ROW / 2;
  const width = x(maxStep) + 420;
  const height = rows.length * ROW + 2 * PAD;
  const svg = s("svg", {
    class: "graph",
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "tree",
    "aria-label": "Branches",
  });
  const links = s("g", { class: "links" });
  const lanes = document.createDocumentFragment();
  for (const row of rows) {
    const item = row.item;
    const yy = y(row.index);
    const x0 = x(row.start);
    const shown = Math.min(N.count(item) || 1, MAX_DOTS);
    const x1 = x0 + (shown - 1) * DX;
    if (row.parent >= 0) {
      const py = y(row.parent);
      links.appendChild(
        s("path", { d: `M${x0} ${py + 4}V${yy - 8}q0 8 8 8`, class: `link kind-${N.kind(item)}` }),
      );
    }
    const classes = ["lane", `kind-${N.kind(item)}`];
    if (N.isCurrent(item)) classes.push("current");
    if (N.status(item)) classes.push(`status-${String(N.status(item)).replace(/[^a-z0-9_-]/gi, "")}`);
    const label = N.label(item);
    const lane = s(
      "g",
      {
        class: classes.join(" "),
        "data-row": row.index,
        "data-key": N.key(item),
        tabindex: row.index === 0 ? 0 : -1,
        role: "treeitem",
        "aria-level": row.depth + 1,
        "aria-label": `${label}${N.isCurrent(item) ? " (current)" : ""}: ${caption(item)}`,
      },
      s("rect", { class: "hit", x: 0, y: yy - ROW / 2, width, height: ROW }),
      s("line", { class: "track", x1: x0, y1: yy, x2: Math.max(x1, x0), y2: yy }),
      s("path", { class: "dots", d: dots(x0, yy, shown) }),
      s(
        "text",
        { x: x1 + 12, y: yy + 4 },
        s("tspan", { class: "name" }, label, N.count(item) > MAX_DOTS ? " …" : ""),
        N.isCurrent(item) ? s("tspan", { class: "here" }, " ● current") : "",
        s("tspan", { class: "meta", dx: 10 }, caption(item)),
      ),
    );
    lanes.appendChild(lane);
  }
  svg.appendChild(links);
  svg.appendChild(lanes);
  return svg;
}
