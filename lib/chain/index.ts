export { checkChain, connect, hardhatRuntime, parseRpcUrl, inProcessProvider, type ConnectOptions, type InProcessNetwork, type LabChain } from "./connect.js";
export { artifact, deployOrReuse, type Artifact } from "./contracts.js";
export { ManagedWallet, managedWallet } from "./nonces.js";
export { DEV_MNEMONIC, devPrivateKey, devWallet, isDevKey } from "./keys.js";
export { FIGURE_SCALE, SETTLEMENT_FILE, readSettlement, scaleFigure, settleResults, type SettleRequest, type Settlement } from "./settle.js";
export { verifySettlement, type Verification } from "./verify.js";
export * from "./errors.js";
