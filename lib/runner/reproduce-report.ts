import type { ClaimResult } from "../experiments/index.js";
import type { ExperimentOutcome, Reproduction } from "./reproduction.js";

/**
 * The report of a reproduction, in markdown (for a repository or a review) and self-contained
 * HTML (figures inline as SVG, styles inline, no script, nothing fetched). Both hold the same
 * parts: the verdict, the pass/fail table of every claim with where it is recorded and computed,
 * the timings, the figures and the environment manifest.
 */

export interface Figure {
  file: string;
  title: string;
  /** The figure as it goes inline in HTML. */
  svgInline: string;
  /** The figure as a standalone file (the markdown links it). */
  svgFile: string;
}

const SVG_NAMESPACE = ["http", "://www.w3.org/2000/svg"].join("");

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function num(v: number, digits = 4): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return Number(v.toFixed(digits)).toString();
}

/** A deviation with its sign, two decimals; one that rounds to zero is "0.00". */
function signed(d: number): string {
  const text = d.toFixed(2);
  if (Number(text) === 0) return "0.00";
  return d > 0 ? `+${text}` : text;
}

/** How far the measured value lies from the claim, in tolerances (inside the claim when |d| ≤ 1). */
export function deviationInTolerances(c: ClaimResult): number {
  if (!Number.isFinite(c.measured)) return Number.NaN;
  const d = c.measured - c.claimed;
  if (c.tolerance === 0) return d === 0 ? 0 : Math.sign(d) * Number.POSITIVE_INFINITY;
  return d / c.tolerance;
}

export function verdict(o: ExperimentOutcome, c: ClaimResult): "pass" | "FAIL" | "shown" {
  if (!o.judged) return "shown";
  return c.holds ? "pass" : "FAIL";
}

function svg(width: number, height: number, title: string, body: string, xmlns: boolean): string {
  return `<svg${xmlns ? ` xmlns="${SVG_NAMESPACE}"` : ""} width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(title)}" font-family="sans-serif" font-size="12"><title>${esc(title)}</title>${body}</svg>`;
}

const LIMIT = 3;

/**
 * One experiment's claims as a dot plot: each measured value's distance from its claim in units
 * of the claim's tolerance, the band [-1, 1] shaded (inside it the claim holds); points beyond
 * ±3 tolerances are drawn at the edge as arrows.
 */
function claimsFigure(o: ExperimentOutcome, xmlns: boolean): string {
  const title = `${o.experiment}: measured − claimed, in tolerances`;
  const rowH = 22,
    left = 290,
    plotW = 360,
    top = 40,
    bottom = 44;
  const height = top + bottom + Math.max(1, o.claims.length) * rowH;
  const width = left + plotW + 30;
  const x = (d: number) => left + ((Math.max(-LIMIT, Math.min(LIMIT, d)) + LIMIT) / (2 * LIMIT)) * plotW;
  const parts: string[] = [`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`];
  const plotBottom = top + o.claims.length * rowH;
  parts.push(`<rect x="${x(-1)}" y="${top}" width="${x(1) - x(-1)}" height="${plotBottom - top}" fill="#d9f2d9"/>`);
  for (let t = -LIMIT; t <= LIMIT; t++) {
    parts.push(`<line x1="${x(t)}" y1="${top}" x2="${x(t)}" y2="${plotBottom}" stroke="${t === 0 ? "#555" : "#ccc"}"/>`);
    parts.push(`<text x="${x(t)}" y="${plotBottom + 15}" text-anchor="middle">${t > 0 ? `+${t}` : t}</text>`);
  }
  parts.push(`<text x="${left + plotW / 2}" y="${plotBottom + 34}" text-anchor="middle">(measured − claimed) / tolerance</text>`);
  parts.push(`<text x="14" y="${(top + plotBottom) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(top + plotBottom) / 2})">claimed metric</text>`);
  o.claims.forEach((c, i) => {
    const y = top + i * rowH + rowH / 2;
    const d = deviationInTolerances(c);
    const v = verdict(o, c);
    const colour = v === "pass" ? "#1a7f37" : v === "FAIL" ? "#cf222e" : "#57606a";
    parts.push(`<text x="${left - 8}" y="${y + 4}" text-anchor="end">${esc(c.metric)}</text>`);
    if (Number.isNaN(d)) {
      parts.push(`<text x="${x(0)}" y="${y + 4}" text-anchor="middle" fill="${colour}">not measured</text>`);
    } else if (Math.abs(d) > LIMIT) {
      const edge = x(Math.sign(d) * LIMIT);
      const tip = edge + Math.sign(d) * 8;
      parts.push(`<path d="M ${edge} ${y - 6} L ${tip} ${y} L ${edge} ${y + 6} Z" fill="${colour}"/>`);
    } else {
      parts.push(`<circle cx="${x(d)}" cy="${y}" r="5" fill="${colour}"/>`);
    }
  });
  return svg(width, height, title, parts.join(""), xmlns);
}

/** Seconds per experiment as horizontal bars. */
function timingsFigure(r: Reproduction, xmlns: boolean): string {
  const title = `Time per experiment (${r.mode} mode)`;
  const rowH = 24,
    left = 190,
    plotW = 400,
    top = 40,
    bottom = 44;
  const height = top + bottom + Math.max(1, r.experiments.length) * rowH;
  const width = left + plotW + 90;
  const max = Math.max(1e-9, ...r.experiments.map((o) => o.seconds));
  const parts: string[] = [`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`];
  const plotBottom = top + r.experiments.length * rowH;
  r.experiments.forEach((o, i) => {
    const y = top + i * rowH;
    const w = (o.seconds / max) * plotW;
    parts.push(`<text x="${left - 8}" y="${y + rowH / 2 + 4}" text-anchor="end">${esc(o.experiment)}</text>`);
    parts.push(`<rect x="${left}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="#0969da"/>`);
    parts.push(`<text x="${left + w + 6}" y="${y + rowH / 2 + 4}">${o.seconds.toFixed(1)} s</text>`);
  });
  parts.push(`<line x1="${left}" y1="${plotBottom}" x2="${left + plotW}" y2="${plotBottom}" stroke="#555"/>`);
  parts.push(`<text x="${left + plotW / 2}" y="${plotBottom + 30}" text-anchor="middle">seconds (wall clock, this machine)</text>`);
  parts.push(`<text x="14" y="${(top + plotBottom) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(top + plotBottom) / 2})">experiment</text>`);
  return svg(width, height, title, parts.join(""), xmlns);
}

/** The figures of a reproduction: one per experiment with claims, and the timings. */
export function reproductionFigures(r: Reproduction): Figure[] {
  const figures: Figure[] = r.experiments
    .filter((o) => o.claims.length > 0)
    .map((o) => ({ file: `${o.experiment}-claims.svg`, title: `${o.experiment}: claims`, svgInline: claimsFigure(o, false), svgFile: claimsFigure(o, true) }));
  figures.push({ file: "timings.svg", title: "timings", svgInline: timingsFigure(r, false), svgFile: timingsFigure(r, true) });
  return figures;
}

interface ClaimRow {
  metric: string;
  measured: string;
  claim: string;
  deviation: string;
  verdict: string;
  target: string;
  recorded: string;
  computed: string;
}

function claimRows(r: Reproduction, o: ExperimentOutcome): ClaimRow[] {
  const field = r.mode === "quick" ? "quickClaims" : "claims";
  return o.claims.map((c, i) => {
    const d = deviationInTolerances(c);
    return {
      metric: c.metric,
      measured: num(c.measured),
      claim: `${num(c.claimed)} ± ${num(c.tolerance)}`,
      deviation: Number.isNaN(d) ? "not measured" : Number.isFinite(d) ? signed(d) : d > 0 ? "+∞" : "−∞",
      verdict: verdict(o, c),
      target: c.target ? `${c.targetStatus} (${c.target})` : "",
      recorded: `${o.spec} ${field}[${i}]`,
      computed: o.sources[c.metric] ?? o.computedBy,
    };
  });
}

const CLAIM_HEADERS: [keyof ClaimRow, string][] = [
  ["metric", "metric"],
  ["measured", "measured"],
  ["claim", "claimed ± tolerance"],
  ["deviation", "deviation (tolerances)"],
  ["verdict", "verdict"],
  ["target", "target"],
  ["recorded", "recorded in"],
  ["computed", "computed by"],
];

function experimentStatus(o: ExperimentOutcome): string {
  if (o.error) return "FAIL (stopped)";
  if (!o.judged) return o.claims.length ? "not judged" : "no claims for this mode";
  const missed = o.claims.filter((c) => !c.holds).length;
  return missed ? `FAIL (${missed} missed)` : "pass";
}

function summaryRows(r: Reproduction): string[][] {
  return r.experiments.map((o) => [o.experiment, o.judged ? `${o.claims.filter((c) => c.holds).length} / ${o.claims.length}` : `${o.claims.length} shown`, o.seconds.toFixed(1), experimentStatus(o)]);
}

function cacheLine(o: ExperimentOutcome): string {
  const c = o.cache;
  if (c.computed === 0 && c.read === 0) return "no cached steps in this experiment";
  if (c.mode === "use") return `step cache used: ${c.read} step(s) read back, ${c.computed} computed and written`;
  const compared = c.matched + c.differed.length;
  return `step cache bypassed: ${c.computed} step(s) recomputed; ${compared} had a cached value, ${c.matched} equal${c.differed.length ? `, ${c.differed.length} DIFFERENT (${c.differed.map((d) => d.step).join(", ")})` : ""}`;
}

function manifestRows(r: Reproduction): string[][] {
  const e = r.environment;
  return [
    ["git commit", `${e.git.commit}${e.git.dirty ? " (with uncommitted changes)" : ""}`],
    ["package-lock.json sha256", e.lockfileSha256],
    ...Object.entries(e.versions).map(([k, v]) => [k, v]),
    ["machine", `${e.machine.cpuModel}, ${e.machine.cores} cores, ${e.machine.memoryGiB} GiB`],
    ["workers", String(e.workers ?? "not recorded")],
    ["system", `${e.machine.platform} ${e.machine.release} (${e.machine.arch})`],
    ["load average (1 min) at start", String(e.machine.loadAverage1m)],
    ["step cache", r.cacheMode === "use" ? "used (--use-cache)" : "bypassed: every step recomputed"],
  ];
}

function headline(r: Reproduction): string {
  const judged = r.experiments.filter((o) => o.judged);
  const claims = judged.reduce((n, o) => n + o.claims.length, 0);
  return r.passed
    ? `PASS: ${claims} claim(s) of ${judged.length} experiment(s) hold (${r.mode} mode, ${r.seconds.toFixed(1)} s)`
    : `FAIL: ${r.failures} failure(s) (${r.mode} mode, ${r.seconds.toFixed(1)} s)`;
}

// --- markdown ------------------------------------------------------------------------------------

function mdCell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function mdTable(headers: string[], rows: string[][]): string {
  return [`| ${headers.map(mdCell).join(" | ")} |`, `|${headers.map(() => "---").join("|")}|`, ...rows.map((row) => `| ${row.map(mdCell).join(" | ")} |`)].join("\n");
}

export function renderReproductionMarkdown(r: Reproduction, figures: readonly Figure[]): string {
  const out: string[] = [
    `# Reproduction ${r.id}`,
    "",
    `**${headline(r)}**`,
    "",
    `Started ${r.startedAt}.`,
    "",
    "## Experiments",
    "",
    mdTable(["experiment", "claims held", "seconds", "status"], summaryRows(r)),
    "",
  ];
  for (const o of r.experiments) {
    out.push(`## ${o.experiment}`, "", o.title, "", `Spec ${o.spec}; computed by ${o.computedBy}. ${cacheLine(o)}.`, "");
    if (o.error) out.push("The experiment stopped with an error:", "", "```", o.error, "```", "");
    if (o.claims.length)
      out.push(
        mdTable(
          CLAIM_HEADERS.map(([, h]) => h),
          claimRows(r, o).map((row) => CLAIM_HEADERS.map(([k]) => row[k])),
        ),
        "",
      );
    else out.push(`No claims are recorded for ${r.mode} mode in ${o.spec}.`, "");
    const figure = figures.find((f) => f.file === `${o.experiment}-claims.svg`);
    if (figure) out.push(`![${figure.title}](figures/${figure.file})`, "");
    out.push("Params:", "", "```json", JSON.stringify(o.params), "```", "");
  }
  out.push(
    "## Timings",
    "",
    mdTable(["experiment", "seconds"], [...r.experiments.map((o) => [o.experiment, o.seconds.toFixed(1)]), ["total", r.seconds.toFixed(1)]]),
    "",
    "![timings](figures/timings.svg)",
    "",
  );
  out.push("## Environment", "", mdTable(["what", "value"], manifestRows(r)), "");
  return `${out.join("\n")}\n`;
}

// --- HTML ----------------------------------------------------------------------------------------

const STYLE = `body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1f2328}
table{border-collapse:collapse;margin:0.5em 0 1em}th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.pass{color:#1a7f37;font-weight:bold}td.FAIL{color:#cf222e;font-weight:bold}td.shown{color:#57606a}
.verdict{font-size:1.2em;padding:0.5em 1em;border-radius:6px;display:inline-block}.verdict.pass{background:#dafbe1}.verdict.fail{background:#ffebe9}
pre{background:#f6f8fa;padding:0.5em;overflow-x:auto;white-space:pre-wrap}.scroll{overflow-x:auto}figure{margin:1em 0}`;

function htmlTable(headers: string[], rows: string[][], classOf: (row: number, col: number) => string = () => ""): string {
  const head = `<tr>${headers.map((h) => `<th>${esc(h)}</th>`).join("")}</tr>`;
  const body = rows.map((row, i) => `<tr>${row.map((cell, j) => `<td${classOf(i, j) ? ` class="${classOf(i, j)}"` : ""}>${esc(cell)}</td>`).join("")}</tr>`).join("");
  return `<div class="scroll"><table>${head}${body}</table></div>`;
}

export function renderReproductionHtml(r: Reproduction, figures: readonly Figure[]): string {
  const parts: string[] = [
    `<h1>Reproduction ${esc(r.id)}</h1>`,
    `<p class="verdict ${r.passed ? "pass" : "fail"}">${esc(headline(r))}</p>`,
    `<p>Started ${esc(r.startedAt)}.</p>`,
    "<h2>Experiments</h2>",
    htmlTable(["experiment", "claims held", "seconds", "status"], summaryRows(r), (i, j) =>
      j === 3 ? (summaryRows(r)[i][3].startsWith("FAIL") ? "FAIL" : summaryRows(r)[i][3] === "pass" ? "pass" : "shown") : "",
    ),
  ];
  for (const o of r.experiments) {
    parts.push(`<h2 id="${esc(o.experiment)}">${esc(o.experiment)}</h2>`, `<p>${esc(o.title)}</p>`, `<p>Spec <code>${esc(o.spec)}</code>; computed by ${esc(o.computedBy)}. ${esc(cacheLine(o))}.</p>`);
    if (o.error) parts.push("<p>The experiment stopped with an error:</p>", `<pre>${esc(o.error)}</pre>`);
    if (o.claims.length) {
      const rows = claimRows(r, o);
      const verdictCol = CLAIM_HEADERS.findIndex(([k]) => k === "verdict");
      parts.push(
        htmlTable(
          CLAIM_HEADERS.map(([, h]) => h),
          rows.map((row) => CLAIM_HEADERS.map(([k]) => row[k])),
          (i, j) => (j === verdictCol ? rows[i].verdict : ""),
        ),
      );
    } else {
      parts.push(`<p>No claims are recorded for ${r.mode} mode in <code>${esc(o.spec)}</code>.</p>`);
    }
    const figure = figures.find((f) => f.file === `${o.experiment}-claims.svg`);
    if (figure) parts.push(`<figure>${figure.svgInline}</figure>`);
    parts.push("<details><summary>params</summary>", `<pre>${esc(JSON.stringify(o.params, null, 2))}</pre>`, "</details>");
  }
  const timings = figures.find((f) => f.file === "timings.svg");
  parts.push("<h2>Timings</h2>", htmlTable(["experiment", "seconds"], [...r.experiments.map((o) => [o.experiment, o.seconds.toFixed(1)]), ["total", r.seconds.toFixed(1)]]));
  if (timings) parts.push(`<figure>${timings.svgInline}</figure>`);
  parts.push("<h2>Environment</h2>", htmlTable(["what", "value"], manifestRows(r)));
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Reproduction ${esc(r.id)}: ${r.passed ? "pass" : "FAIL"}</title><style>${STYLE}</style></head><body>\n${parts.join("\n")}\n</body></html>\n`;
}
