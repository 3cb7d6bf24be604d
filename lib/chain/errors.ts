import { LabError } from "../errors.js";

/** Every refusal of lib/chain: a stable code ("chain/…", "settle/…"), its fields, what is wrong and the fix. */
export class ChainError extends LabError {}

export class RpcUnreachableError extends ChainError {}
export class ChainIdMismatchError extends ChainError {}
export class DevKeyRefusedError extends ChainError {}
export class MissingKeyError extends ChainError {}
export class ContractArtifactMissingError extends ChainError {}
/** A settlement that cannot be made or read: codes "settle/…". */
export class SettlementError extends ChainError {}
/** A run folder that no longer agrees with its settlement. */
export class ResultsTamperedError extends ChainError {}
