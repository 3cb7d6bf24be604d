import { entryScriptCommand } from "../command.js";

/** `./lab setup`: the entry script runs the set-up itself, before anything is built; this is its help. */
export default entryScriptCommand({
  name: "setup",
  usage: "",
  description:
    "Runs only the set-up every command starts with: Node 22.13+ (else Node 24 into .lab/node24), npm ci,\n" +
    "Jupyter and the data sets' Debian packages (installed as root, else the apt-get line to run), the TypeScript\n" +
    "kernel registered in .lab/jupyter, contracts compiled and lib/ built into dist/. A repeat with nothing\n" +
    "changed takes under a second.",
  options: {},
  examples: ["./lab setup"],
});
