import { LabError } from "../errors.js";

/** Every refusal of lib/chain: a stable code, its fields, what is wrong and the fix. */
export class ChainError extends LabError {}

/** The JSON-RPC endpoint does not answer at all. */
export class RpcUnreachableError extends ChainError {
  constructor(fields: { url: string; reason: string }, cause?: unknown) {
    super({
      code: "chain/rpc-unreachable",
      message: `the JSON-RPC endpoint ${fields.url} does not answer (${fields.reason})`,
      hint: "start a local node with `./lab chain` (then LAB_RPC_URL=http://127.0.0.1:8545), check the URL, or unset LAB_RPC_URL to use the in-process Hardhat network",
      fields,
      cause,
    });
  }
}

/** The endpoint answers, but with an error or a reply that is not JSON-RPC. */
export class RpcReplyError extends ChainError {
  constructor(fields: { url: string; method: string; reply: string }) {
    super({
      code: "chain/rpc-error-reply",
      message: `${fields.url} answered ${fields.method} with ${fields.reply}`,
      hint: "check that the URL is an Ethereum JSON-RPC endpoint",
      fields,
    });
  }
}

export class ChainIdMismatchError extends ChainError {
  constructor(fields: { url: string; chainId: bigint; expected: string }) {
    super({
      code: "chain/id-mismatch",
      message: `${fields.url} has chain id ${fields.chainId}, but chain id ${fields.expected} was expected`,
      hint: `point LAB_RPC_URL at the chain with id ${fields.expected}, or set LAB_CHAIN_ID=${fields.chainId} if this chain is the one you mean`,
      fields,
    });
  }
}

/** A Hardhat development key (public to everyone) asked for on a chain that is not a local development chain. */
export class DevKeyRefusedError extends ChainError {
  constructor(fields: { chain: string; chainId: bigint } | { chain: string; account: number }) {
    super(
      "account" in fields
        ? {
            code: "chain/dev-account-refused",
            message: `development account ${fields.account} asked for on ${fields.chain}, which is not a local development chain`,
            hint: "use chain.signer (from LAB_PRIVATE_KEY) on public chains",
            fields,
          }
        : {
            code: "chain/dev-key-refused",
            message: `the signing key is one of Hardhat's public development keys, and ${fields.chain} (chain ${fields.chainId}) is not a local development chain`,
            hint: "set LAB_PRIVATE_KEY to a key of your own funded on that chain; development keys are public and anything they hold can be taken",
            fields,
          },
    );
  }
}

export class MissingKeyError extends ChainError {
  constructor(fields: { url: string; chainId: bigint }) {
    super({
      code: "chain/missing-key",
      message: `no signing key for ${fields.url} (chain ${fields.chainId}), which is not a local development chain`,
      hint: "set LAB_PRIVATE_KEY to a funded key of your own for that chain",
      fields,
    });
  }
}

export class ContractArtifactMissingError extends ChainError {
  constructor(fields: { contract: string }) {
    super({
      code: "chain/artifact-missing",
      message: `no compiled artifact for contract ${fields.contract}`,
      hint: "compile the contracts with `./lab setup` (or `npx hardhat compile`); check the contract name matches its .sol file",
      fields,
    });
  }
}

/** A settlement that cannot be made or read: codes "settle/…". */
export class SettlementError extends ChainError {}

/** A run folder that no longer agrees with its settlement: codes "settle/results-changed", "settle/record-edited", "settle/registry-mismatch". */
export class ResultsTamperedError extends ChainError {}
