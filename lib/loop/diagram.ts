// The loop's flow as one self-contained SVG (no script, no network): the Intelligence and
// Attribution steps on the top rows, the Ledger's path to L1 and back below. Each box can carry
// a figure of the run (`notes`), so the picture shows what this run did.

export interface FlowNode {
  id: string;
  title: string;
  layer: "contributors" | "intelligence" | "attribution" | "ledger" | "l1";
  col: number;
  row: number;
}

export const LOOP_NODES: readonly FlowNode[] = [
  { id: "contributors", title: "Contributors", layer: "contributors", col: 0, row: 0 },
  { id: "datanets", title: "DatanetRegistry", layer: "ledger", col: 1, row: 0 },
  { id: "factory", title: "Model Factory (LoRA)", layer: "intelligence", col: 2, row: 0 },
  { id: "models", title: "ModelRegistry", layer: "ledger", col: 3, row: 0 },
  { id: "customers", title: "Customers (fees)", layer: "contributors", col: 4, row: 1 },
  { id: "serving", title: "Serving (adapters)", layer: "intelligence", col: 3, row: 1 },
  { id: "attribution", title: "Proof of Attribution", layer: "attribution", col: 2, row: 1 },
  { id: "distributor", title: "RewardDistributor", layer: "ledger", col: 1, row: 1 },
  { id: "l2", title: "L2 blocks (sequencer)", layer: "ledger", col: 1, row: 2 },
  { id: "batcher", title: "Batcher → DA layer, L1", layer: "l1", col: 2, row: 2 },
  { id: "derivation", title: "Derivation (fresh L2)", layer: "ledger", col: 3, row: 2 },
  { id: "oracle", title: "L2OutputOracle (L1)", layer: "l1", col: 4, row: 2 },
];

export const LOOP_EDGES: readonly [string, string, string][] = [
  ["contributors", "datanets", "register"],
  ["datanets", "factory", "train on"],
  ["factory", "models", "adapter"],
  ["models", "serving", "load"],
  ["customers", "serving", "paid request"],
  ["serving", "attribution", "answer"],
  ["attribution", "distributor", "reward root"],
  ["distributor", "contributors", "claim (proof)"],
  ["distributor", "l2", "all on L2"],
  ["l2", "batcher", "channels"],
  ["batcher", "derivation", "certificate, data"],
  ["derivation", "oracle", "output root"],
];

const COLOURS: Record<FlowNode["layer"], string> = {
  contributors: "#f3e6c8",
  intelligence: "#d8e8f8",
  attribution: "#dff2df",
  ledger: "#ece0f5",
  l1: "#f6d9d9",
};

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** The SVG of the loop; `notes` puts a line of figures under a box's title. */
export function loopDiagramSvg(notes: Record<string, string> = {}, nodes: readonly FlowNode[] = LOOP_NODES, edges: readonly [string, string, string][] = LOOP_EDGES): string {
  const W = 190,
    H = 54,
    GX = 84,
    GY = 52,
    PAD = 16;
  const cols = Math.max(...nodes.map((n) => n.col)) + 1;
  const rows = Math.max(...nodes.map((n) => n.row)) + 1;
  const width = PAD * 2 + cols * W + (cols - 1) * GX;
  const height = PAD * 2 + rows * H + (rows - 1) * GY + 22;
  const pos = new Map(nodes.map((n) => [n.id, { x: PAD + n.col * (W + GX), y: PAD + n.row * (H + GY) }]));
  const parts: string[] = [];
  parts.push(
    `<defs><marker id="loop-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>`,
  );
  for (const [from, to, label] of edges) {
    const a = pos.get(from);
    const b = pos.get(to);
    if (!a || !b) continue;
    const ca = { x: a.x + W / 2, y: a.y + H / 2 };
    const cb = { x: b.x + W / 2, y: b.y + H / 2 };
    // leave and enter each box on the side facing the other
    const horizontal = Math.abs(cb.x - ca.x) * H > Math.abs(cb.y - ca.y) * W;
    const sx = horizontal ? ca.x + (Math.sign(cb.x - ca.x) * W) / 2 : ca.x;
    const sy = horizontal ? ca.y : ca.y + (Math.sign(cb.y - ca.y) * H) / 2;
    const ex = horizontal ? cb.x - (Math.sign(cb.x - ca.x) * W) / 2 : cb.x;
    const ey = horizontal ? cb.y : cb.y - (Math.sign(cb.y - ca.y) * H) / 2;
    parts.push(`<line x1="${sx}" y1="${sy}" x2="${ex}" y2="${ey}" stroke="#555" stroke-width="1.4" marker-end="url(#loop-arrow)"/>`);
    parts.push(`<text x="${(sx + ex) / 2 + (horizontal ? 0 : 6)}" y="${(sy + ey) / 2 - 4}" font-size="10" fill="#333" text-anchor="${horizontal ? "middle" : "start"}">${esc(label)}</text>`);
  }
  for (const n of nodes) {
    const p = pos.get(n.id)!;
    parts.push(`<rect x="${p.x}" y="${p.y}" width="${W}" height="${H}" rx="8" fill="${COLOURS[n.layer]}" stroke="#666"/>`);
    parts.push(`<text x="${p.x + W / 2}" y="${p.y + 22}" font-size="12.5" font-weight="bold" text-anchor="middle" fill="#222">${esc(n.title)}</text>`);
    const note = notes[n.id];
    if (note) parts.push(`<text x="${p.x + W / 2}" y="${p.y + 40}" font-size="10.5" text-anchor="middle" fill="#333">${esc(note)}</text>`);
  }
  const legend = (Object.keys(COLOURS) as FlowNode["layer"][]).map(
    (k, i) =>
      `<rect x="${PAD + i * 130}" y="${height - 18}" width="12" height="12" fill="${COLOURS[k]}" stroke="#666"/><text x="${PAD + i * 130 + 17}" y="${height - 8}" font-size="10.5" fill="#333">${k === "l1" ? "on L1" : k === "ledger" ? "on L2 (Ledger)" : k}</text>`,
  );
  parts.push(...legend);
  return `<svg viewBox="0 0 ${width} ${height}" width="100%" style="max-width:${width}px" role="img" aria-label="The loop: data, model, inference, attribution, rewards, all on the L2 and settled on L1">${parts.join("")}</svg>`;
}
