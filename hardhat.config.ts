import { createRequire } from "node:module";
import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import hardhatEthersChaiMatchers from "@nomicfoundation/hardhat-ethers-chai-matchers";
import hardhatMocha from "@nomicfoundation/hardhat-mocha";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";
import { defineConfig } from "hardhat/config";

const require = createRequire(import.meta.url);

// Compiled offline: solc-js from the `solc` package, whose version must equal `version`.
const SOLC_VERSION = "0.8.28";

export default defineConfig({
  plugins: [hardhatEthers, hardhatEthersChaiMatchers, hardhatMocha, hardhatNetworkHelpers],
  solidity: {
    version: SOLC_VERSION,
    path: require.resolve("solc/soljson.js"),
    settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun" },
  },
  paths: {
    tests: { mocha: "test/contracts" },
  },
  test: { mocha: { timeout: 120_000 } },
  networks: {
    // The in-process chain every notebook settles on unless LAB_RPC_URL names another.
    default: { type: "edr-simulated", chainType: "l1" },
    // The ledger layer's two chains: Ethereum L1 and the OP Stack L2.
    l1: { type: "edr-simulated", chainType: "l1" },
    l2: { type: "edr-simulated", chainType: "op", chainId: 901 },
    localhost: { type: "http", url: "http://127.0.0.1:8545" },
  },
});
