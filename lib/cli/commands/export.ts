import { relative } from "node:path";
import { fromRoot } from "../../files.js";
import { exportNotebooks } from "../../runner/export-runs.js";
import { defineCommand } from "../command.js";

export default defineCommand({
  name: "export",
  usage: "[NAME...] [--out DIR]",
  description:
    "Exports every notebook's latest run (experiments/runs/) for teaching: its self-contained HTML report and\n" +
    "a PDF printed by headless Chromium (Debian's chromium; set-up installs it as root), with an index page\n" +
    "linking them and saying what each notebook teaches. Every page is opened with the network blocked and an\n" +
    "export whose pages attempted a request is refused. The folder is built beside its destination and renamed\n" +
    "into place (default experiments/runs/export/, or LAB_EXPORT_DIR).",
  options: {
    out: { type: "string", value: "DIR", doc: "the export folder (replaced as a whole)" },
  },
  positionals: { name: "NAME" },
  examples: ["./lab export", "./lab export 01 05 --out /tmp/teaching"],
  async run({ values, positionals }) {
    console.log("exporting the latest run of each notebook (HTML and PDF, network blocked)");
    const result = await exportNotebooks({ names: positionals, out: values.out, log: console.log });
    if (result.missing.length) console.log(`  not run yet, left out: ${result.missing.join(", ")} (./lab run NAME first)`);
    const where = relative(fromRoot(), result.dir) || result.dir;
    console.log(`${result.exported.length} notebook(s) exported: ${where.startsWith("..") ? result.dir : where}/index.html`);
    return 0;
  },
});
