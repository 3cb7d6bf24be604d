import { LabError } from "../errors.js";

export class RpcUnreachableError extends LabError {}
export class ChainIdMismatchError extends LabError {}
export class DevKeyRefusedError extends LabError {}
export class MissingKeyError extends LabError {}
export class ContractArtifactMissingError extends LabError {}
export class SettlementError extends LabError {}
export class ResultsTamperedError extends LabError {}
