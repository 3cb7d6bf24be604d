import { entryScriptCommand } from "../command.js";

/** `./lab notebook`: the entry script execs Jupyter; this is its help. */
export default entryScriptCommand({
  name: "notebook",
  usage: "[JUPYTER-OPTION...]",
  description:
    "Starts Jupyter (the classic notebook server) on 127.0.0.1 with the TypeScript kernel (tslab), opened at\n" +
    "notebooks/, and prints the address to open, token included. The port is LAB_NOTEBOOK_PORT when set (a port\n" +
    "in use is then refused), else the first free one from 8888. Edits and runs stay out of the tracked files:\n" +
    "on save the server writes the notebook without outputs and with the parameters cell as committed, so\n" +
    "`git status` stays clean; a run's outputs live in its run folder once it settles (experiments/runs/RUN-ID,\n" +
    "with the same manifest as ./lab run). Other options are passed to Jupyter as given.",
  options: {},
  positionals: { name: "JUPYTER-OPTION" },
  examples: ["./lab notebook", "LAB_NOTEBOOK_PORT=9000 ./lab notebook"],
});
