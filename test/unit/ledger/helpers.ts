// Shared scenario builders for the ledger tests: a seeded workload run through the in-memory
// simulation, and helpers to rebuild L1 blocks from (possibly tampered) batcher transactions.
import { Transaction, type Wallet } from "ethers";
import { devPrivateKeys, devWallet } from "../../../lib/chain/keys.js";
import type { BatcherOptions } from "../../../lib/ledger/batcher.js";
import type { L1Tx } from "../../../lib/ledger/block-refs.js";
import { fromHex, toHex } from "../../../lib/ledger/bytes.js";
import { parseL1Tx } from "../../../lib/ledger/derivation/l1-retrieval.js";
import { defaultRollupConfig, type RollupConfig } from "../../../lib/ledger/rollup-config.js";
import { BATCHER_ACCOUNT, MEMORY_L1_CHAIN_ID, type SimRun, simulate } from "../../../lib/ledger/sim.js";
import { Workload } from "../../../lib/ledger/workload.js";

export const BATCHER_WALLET = devWallet(BATCHER_ACCOUNT);
export const BATCHER = BATCHER_WALLET.address;

export function testConfig(overrides: Partial<RollupConfig> = {}): RollupConfig {
  return defaultRollupConfig({ genesisTimestamp: 1_700_000_000, batcherAddress: BATCHER, ...overrides });
}

/** A configuration from before Holocene (Canyon's channel bank, no strict ordering). */
export function preHoloceneConfig(overrides: Partial<RollupConfig> = {}): RollupConfig {
  return testConfig({ holoceneTime: null, isthmusTime: null, jovianTime: null, ...overrides });
}

export async function scenario(opts: { cfg?: RollupConfig; batcher: BatcherOptions; l2Blocks: number; txsPerBlock: number; seed?: number }): Promise<SimRun & { cfg: RollupConfig }> {
  const cfg = opts.cfg ?? testConfig();
  const w = new Workload({ seed: opts.seed ?? 11, chainId: cfg.l2ChainId, senderKeys: devPrivateKeys().slice(0, 8) });
  const setup = w.setup().map((t) => t.raw);
  const run = await simulate({
    cfg,
    batcher: opts.batcher,
    l2Blocks: opts.l2Blocks,
    seed: opts.seed ?? 11,
    txsForBlock: (i) => (i === 0 ? setup : w.take(opts.txsPerBlock).map((t) => t.raw)),
  });
  return { ...run, cfg };
}

/** The calldata of a signed L1 transaction. */
export function txData(tx: L1Tx): Uint8Array {
  return parseL1Tx(tx).data;
}

/** A signed calldata transaction to `to` (the batch inbox by default) from `signer` (the batcher by default). */
export function signedTx(data: Uint8Array, to: string, signer: Wallet = BATCHER_WALLET, nonce = 0): L1Tx {
  const tx = Transaction.from({ type: 2, chainId: MEMORY_L1_CHAIN_ID, nonce, to, data: toHex(data), gasLimit: 1_000_000n, maxFeePerGas: 50_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n });
  tx.signature = signer.signingKey.sign(tx.unsignedHash);
  return { raw: fromHex(tx.serialized) };
}

/** The same transaction with other data, recipient or signer, signed again. */
export function resigned(t: L1Tx, change: { data?: Uint8Array; to?: string; signer?: Wallet }): L1Tx {
  const copy = Transaction.from(toHex(t.raw)).clone();
  copy.signature = null;
  if (change.data) copy.data = toHex(change.data);
  if (change.to) copy.to = change.to;
  copy.signature = (change.signer ?? BATCHER_WALLET).signingKey.sign(copy.unsignedHash);
  return { raw: fromHex(copy.serialized) };
}
