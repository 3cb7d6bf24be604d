import { readFileSync } from "node:fs";
import { expect } from "chai";
import { parseRunCommandLine } from "../../../lib/cli/commands/run.js";
import { fromRoot } from "../../../lib/files.js";
import { cellSource, listNotebooks, notebookIndex, notebookIndexMarkdown, notebookParameters, readNotebook } from "../../../lib/runner/notebooks.js";
import { RUN_FOLDER_FILES } from "../../../lib/runner/run-notebooks.js";

const readme = readFileSync(fromRoot("README.md"), "utf8");
const notebooksDir = fromRoot("notebooks");

function section(text: string, heading: string): string {
  const start = text.indexOf(heading);
  expect(start, `README has "${heading}"`).to.be.greaterThan(-1);
  const next = text.indexOf("\n#", start + heading.length);
  return text.slice(start, next < 0 ? undefined : next);
}

describe("docs: README and the notebooks tell a learner where to go", () => {
  const notebooks = listNotebooks(notebooksDir);

  it("README documents every file of a run folder and every option of ./lab run", () => {
    const runFolders = section(readme, "### Run folders");
    for (const file of RUN_FOLDER_FILES) expect(runFolders, file).to.include(`| \`${file}\` |`);
    const options = section(readme, "### Options of `./lab run`");
    for (const option of ["--quick", "--set key=value", "--cell-timeout SECONDS"]) expect(options, option).to.include(`| \`${option}\` |`);
    // and they are the options the runner takes
    expect(parseRunCommandLine(["00", "--quick", "--set", "seed=7", "--cell-timeout", "60"])).to.include({ quick: true, cellTimeoutS: 60 });
  });

  it("README and 00-tour link every notebook, each with a line on what it teaches", () => {
    const tour = readNotebook(fromRoot("notebooks", "00-tour.ipynb"));
    // The tour's table is made from the notebooks present when its cell runs.
    expect(
      tour.cells.some((c) => c.cell_type === "code" && cellSource(c).includes("markdown(notebookIndexMarkdown())")),
      "00-tour shows the notebook index",
    ).to.equal(true);
    const toc = notebookIndexMarkdown(fromRoot("notebooks"));
    for (const row of notebookIndex(fromRoot("notebooks"))) expect(row.teaches.length, `the tour says what ${row.notebook} teaches`).to.be.greaterThan(20);
    const table = section(readme, "## Notebooks");
    const names = notebooks.map((n) => n.name);
    const linked = [...table.matchAll(/\(notebooks\/([\w-]+)\.ipynb\)/g)].map((m) => m[1]);
    expect([...new Set(linked)], "README links only notebooks that exist").to.deep.equal(names);
    for (const name of names) {
      const row = table.split("\n").find((l) => l.includes(`(notebooks/${name}.ipynb)`));
      expect(row, `README links ${name}`).to.not.equal(undefined);
      expect(row!.split("|")[2].trim().length, `a line on what ${name} teaches`).to.be.greaterThan(20);
      if (notebooks.some((n) => n.name === name)) expect(toc, `00-tour links ${name}`).to.include(`](${name}.ipynb)`);
    }
  });

  for (const notebook of listNotebooks(fromRoot("notebooks"))) {
    it(`${notebook.name} ends with two or three exercises whose --set names declared parameters`, () => {
      const nb = readNotebook(notebook.path);
      const last = nb.cells[nb.cells.length - 1];
      const text = cellSource(last);
      expect(last.cell_type).to.equal("markdown");
      expect(text).to.match(/^## Exercises\n/);
      const items = text.split("\n").filter((l) => /^\d+\. /.test(l));
      expect(items.length).to.be.within(2, 3);
      expect(text).to.include("--set");
      const declared = notebookParameters(nb).map((p) => p.name);
      for (const span of text.match(/`[^`]+`/g) ?? []) {
        if (span.includes("reproduce")) continue; // an experiment spec's parameters, not the notebook's
        for (const m of span.matchAll(/--set (\w+)=/g)) expect(declared, `${notebook.name}: --set ${m[1]}`).to.include(m[1]);
      }
    });
  }
});
