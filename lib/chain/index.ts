export { type ConnectOptions, checkChain, connect, hardhatRuntime, type InProcessNetwork, inProcessProvider, type LabChain, parseRpcUrl } from "./connect.js";
export { type Artifact, artifact, deployOrReuse } from "./contracts.js";
export * from "./errors.js";
export { DEV_MNEMONIC, devPrivateKey, devWallet, isDevKey } from "./keys.js";
export { ManagedWallet, managedWallet } from "./nonces.js";
export { FIGURE_SCALE, readSettlement, SETTLEMENT_FILE, type Settlement, type SettleRequest, scaleFigure, settleResults } from "./settle-results.js";
export { type Verification, verifySettlement } from "./verify-run.js";
