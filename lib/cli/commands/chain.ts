import { entryScriptCommand } from "../command.js";

/** `./lab chain`: the entry script execs Hardhat's node; this is its help. */
export default entryScriptCommand({
  name: "chain",
  usage: "[HARDHAT-NODE-OPTION...]",
  description:
    "Starts a persistent Hardhat node on http://127.0.0.1:8545 (LAB_CHAIN_PORT to change the port). In another\n" +
    "terminal, `export LAB_RPC_URL=http://127.0.0.1:8545` and every notebook, ./lab run and ./lab verify settle on\n" +
    "it and can read its registry afterwards. Other options are passed to `hardhat node` as given.",
  options: {},
  positionals: { name: "HARDHAT-NODE-OPTION" },
  examples: ["./lab chain", "LAB_CHAIN_PORT=9545 ./lab chain"],
});
