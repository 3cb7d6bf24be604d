export { type ConnectOptions, checkChain, connect, hardhatRuntime, type InProcessNetwork, inProcessProvider, type LabChain, parseRpcUrl } from "./connect.js";
export type { ConstructorArguments, ContractName, FunctionArguments, FunctionName, FunctionResult, LabContract } from "./contract-types.js";
export {
  type Artifact,
  artifact,
  bytes32Hex,
  connectContract,
  contractAddress,
  contractAt,
  type DeployArguments,
  deployContract,
  deploymentData,
  deployOrReuse,
  encodeCall,
  revertedWith,
} from "./contracts.js";
export * from "./errors.js";
export { DEV_MNEMONIC, devPrivateKey, devWallet, isDevKey } from "./keys.js";
export { ManagedWallet, managedWallet } from "./nonces.js";
export { FIGURE_SCALE, readSettlement, SETTLEMENT_FILE, type Settlement, type SettleRequest, scaleFigure, settleResults } from "./settle-results.js";
export { type Verification, verifySettlement } from "./verify-run.js";
