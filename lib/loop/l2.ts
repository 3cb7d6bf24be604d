// The loop's L2: the Ledger layer's two Hardhat chains and its rollup driver, driven by the loop's
// own transactions instead of a generated workload. Every transaction the loop sends
// (registrations, fees, attribution records, reward epochs, claims) is signed here and handed to
// the driver, which sequences it into an L2 block and submits the batches to the batch inbox on L1;
// `finish()` closes the last channel and derives the L2 again from L1 alone on a fresh chain, and
// `settleOutputs()` proposes output roots to the L2OutputOracle, has the challenger check them
// against the derived chain, and finalizes.

import { type ContractRunner, keccak256, Transaction, type TransactionReceipt, type Wallet } from "ethers";
import type { LabChain } from "../chain/connect.js";
import type { ContractName, FunctionArguments, FunctionName, LabContract } from "../chain/contract-types.js";
import { contractAddress, contractAt, type DeployArguments, deploymentData, encodeCall } from "../chain/contracts.js";
import { DEV_ACCOUNT_COUNT, devPrivateKey } from "../chain/keys.js";
import { managedWallet } from "../chain/nonces.js";
import type { Batcher, BatcherOptions, BatcherTx } from "../ledger/batcher.js";
import type { L1BlockRef, L2BlockRef } from "../ledger/block-refs.js";
import { type BlobStore, type ChainHandle, HardhatEngine, openChain } from "../ledger/chains.js";
import type { AltDAResolver } from "../ledger/derivation/alt-da.js";
import type { DerivationPipeline } from "../ledger/derivation/pipeline.js";
import { type PostedChannel, RollupDriver } from "../ledger/driver.js";
import { type HardhatRollup, identicalBlocks, openHardhatRollup } from "../ledger/hardhat-l1.js";
import { commitmentFunction } from "../ledger/kzg-eip4844.js";
import { type OutputSettlement, outputAtBlock, settleOutputRoots } from "../ledger/output-root.js";
import type { RollupConfig } from "../ledger/rollup-config.js";
import type { SequencedBlock, Sequencer } from "../ledger/sequencer.js";
import type { OnProgress } from "../progress.js";
import { LoopError } from "./errors.js";

/** One L2 transaction the loop wants included: who signs it, and the call or deployment. */
export interface L2Call {
  /** What the transaction is for, in the loop's words (tables and errors name it). */
  label: string;
  from: Wallet;
  to?: string;
  data?: string;
  value?: bigint;
}

export interface IncludedCall {
  label: string;
  from: string;
  hash: string;
  receipt: TransactionReceipt;
  /** Execution gas × effective gas price plus the L1 data fee the OP chain charged. */
  feePaid: bigint;
}

export interface LoopBlock {
  /** The loop step that sent it. */
  step: string;
  ref: L2BlockRef;
  calls: IncludedCall[];
}

/**
 * Alt-DA (specs/experimental/alt-da.md): the batcher's frame transactions go to a DA layer, and
 * L1 gets 0x01 ++ the commitment instead; derivation resolves each commitment back to frames.
 */
export interface LoopAltDA {
  /** Replaces each calldata frame transaction by its DA commitment (e.g. the DA stack's postThroughDA). */
  post(txs: readonly BatcherTx[]): Promise<BatcherTx[]>;
  /** A fresh resolver for derivation (e.g. the DA stack's source()). */
  resolver(): AltDAResolver;
}

export interface L2LedgerOptions {
  seed: number;
  batcher: BatcherOptions;
  genesisDate?: Date;
  l1BlockTime?: number;
  cfg?: Partial<RollupConfig>;
}

export interface Derivation {
  chain: ChainHandle;
  pipeline: DerivationPipeline;
  /** L2 blocks whose hash and state root are the same on both chains. */
  identicalBlocks: number;
  seconds: number;
}

const GAS_MARGIN_NUM = 5n;
const GAS_MARGIN_DEN = 4n;

/** The L2 of the Ledger layer as the loop uses it: send calls, read state, batch, derive, settle. */
export class L2Ledger {
  readonly blocks: LoopBlock[] = [];
  private readonly nonces = new Map<string, number>();
  derivation?: Derivation;
  private altDA?: LoopAltDA;

  private constructor(
    private readonly rollup: HardhatRollup,
    private readonly driver: RollupDriver,
    private readonly opts: L2LedgerOptions,
  ) {}

  /** Opens L1 and L2 from one genesis date; the sequencer starts on L2's genesis block. */
  static async open(o: L2LedgerOptions): Promise<L2Ledger> {
    const rollup = await openHardhatRollup(o);
    const driver = new RollupDriver({ cfg: rollup.cfg, l1: rollup.port, engine: new HardhatEngine(rollup.l2), genesis: rollup.genesis, batcher: o.batcher, seed: o.seed });
    return new L2Ledger(rollup, driver, o);
  }

  get cfg(): RollupConfig {
    return this.rollup.cfg;
  }

  get l1(): ChainHandle {
    return this.rollup.l1;
  }

  get l2(): ChainHandle {
    return this.rollup.l2;
  }

  get sequencer(): Sequencer {
    return this.driver.sequencer;
  }

  get batcher(): Batcher {
    return this.driver.batcher;
  }

  get blobStore(): BlobStore {
    return this.rollup.port.blobStore;
  }

  /** The channels the batcher posted, with their L1 transactions. */
  get posted(): PostedChannel[] {
    return this.driver.posted;
  }

  /**
   * Runs `setUp` against L1 with automine on (deployments that must exist before the rollup runs,
   * such as a DA layer's contracts), then returns to manual mining and takes the blocks it mined
   * into the L1 chain the sequencer picks origins from. Only before the first L2 block. The clock
   * is pinned meanwhile: the blocks it mines have the same timestamps, so hashes, on every run.
   */
  async setUpOnL1<T>(setUp: (l1: LabChain) => Promise<T>): Promise<T> {
    if (this.sequencer.unsafeHead.number !== 0) {
      throw new LoopError("loop/l1-setup-late", "L1 set-up runs before the first L2 block", "set up L1 contracts right after L2Ledger.open()", { l2Head: this.sequencer.unsafeHead.number });
    }
    this.l1.pinClock(true);
    await this.l1.send("evm_setAutomine", [true]);
    try {
      return await setUp(this.l1LabChain());
    } finally {
      await this.l1.send("evm_setAutomine", [false]);
      this.l1.pinClock(false);
      await this.rollup.port.catchUp();
    }
  }

  /** Switches posting to a DA layer (set up on this ledger's L1) before the first L2 block. */
  useAltDA(altDA: LoopAltDA): void {
    if (this.opts.batcher.da !== "calldata") {
      throw new LoopError("loop/alt-da-needs-calldata", "alt-DA replaces calldata frame transactions", 'open the ledger with batcher.da = "calldata"', { da: this.opts.batcher.da });
    }
    if (this.sequencer.unsafeHead.number !== 0)
      throw new LoopError("loop/l1-setup-late", "alt-DA is chosen before the first L2 block", "call useAltDA() right after setting the DA layer up", { l2Head: this.sequencer.unsafeHead.number });
    this.altDA = altDA;
    this.driver.altDA = (txs) => altDA.post(txs);
  }

  get usesAltDA(): boolean {
    return this.altDA !== undefined;
  }

  /** The loop's L1 as the chain actions see a chain (signer: development account 0). */
  private l1LabChain(): LabChain {
    const l1 = this.l1;
    return {
      kind: "in-process",
      name: "l1",
      chainId: l1.chainId,
      local: true,
      provider: l1.provider,
      signer: managedWallet(devPrivateKey(0), l1.provider),
      wallet: (i) => managedWallet(devPrivateKey(i), l1.provider),
      increaseTime: async (seconds) => {
        await l1.send("evm_increaseTime", [seconds]);
      },
      mine: async (blocks = 1) => {
        for (let i = 0; i < blocks; i++) await l1.send("evm_mine", []);
      },
      // the ledger closes its chains
      close: async () => {},
    };
  }

  get l1Head(): L1BlockRef {
    return this.rollup.port.head;
  }

  /** A development account on L2 (funded at genesis). */
  wallet(i: number): Wallet {
    return this.l2.wallet(i);
  }

  /** The development account with this address, on L2; refused for any other address. */
  walletOf(address: string): Wallet {
    const want = address.toLowerCase();
    for (let i = 0; i < DEV_ACCOUNT_COUNT; i++) if (this.l2.wallet(i).address.toLowerCase() === want) return this.l2.wallet(i);
    throw new LoopError("loop/unknown-account", `${address} is not one of the development accounts`, "contributors, owners and customers of the loop are development accounts 0..19", { address });
  }

  /** A contract on L2 by artifact name, for reads (calls go to the latest L2 block; `runner` reads another chain, e.g. the derived one). */
  contract<N extends ContractName>(name: N, address: string, runner: ContractRunner = this.l2.provider): LabContract<N> {
    return contractAt(name, address, runner);
  }

  /** The call that deploys `name` from `from`; its address is the receipt's `contractAddress`. */
  async deployCall<N extends ContractName>(label: string, from: Wallet, name: N, ...args: DeployArguments<N>): Promise<L2Call> {
    return { label, from, data: await deploymentData(name, ...args) };
  }

  /** Encodes a contract call for `send`. */
  call<N extends ContractName, F extends FunctionName<N>>(label: string, from: Wallet, contract: LabContract<N>, fn: F, args: FunctionArguments<N, F>, value?: bigint): L2Call {
    return { label, from, to: contractAddress(contract), data: encodeCall(contract, fn, args), value };
  }

  private async nextNonce(address: string): Promise<number> {
    const n = this.nonces.get(address) ?? (await this.l2.provider.getTransactionCount(address, "latest"));
    this.nonces.set(address, n + 1);
    return n;
  }

  private async sign(c: L2Call, baseFee: bigint): Promise<string> {
    const req = { from: c.from.address, to: c.to, data: c.data ?? "0x", value: c.value ?? 0n };
    let gas: bigint;
    try {
      gas = BigInt(await this.l2.send("eth_estimateGas", [{ ...req, value: `0x${req.value.toString(16)}` }, "latest"]));
    } catch (cause) {
      throw new LoopError(
        "loop/call-reverts",
        `"${c.label}" reverts on the latest L2 state: ${(cause as Error).message.slice(0, 200)}`,
        "check the call's arguments; a call that depends on another call of the same step goes into a later step",
        { label: c.label, from: c.from.address },
      );
    }
    const tx = Transaction.from({
      type: 2,
      chainId: this.l2.chainId,
      nonce: await this.nextNonce(c.from.address),
      to: c.to ?? null,
      data: req.data,
      value: req.value,
      gasLimit: (gas * GAS_MARGIN_NUM) / GAS_MARGIN_DEN,
      maxFeePerGas: baseFee * 2n + 1_000_000n,
      maxPriorityFeePerGas: 1_000_000n,
    });
    return c.from.signTransaction(tx);
  }

  /** Sequencing and batch submission of one L2 block (L1 advancing every l1BlockTime seconds); empty when `raws` is. */
  private buildBlock(raws: string[]): Promise<SequencedBlock> {
    return this.driver.sequence(raws.map((r) => Uint8Array.from(Buffer.from(r.slice(2), "hex"))));
  }

  /**
   * Sends one step's calls in one L2 block and returns their receipts. The calls of a step must
   * not depend on one another (each is estimated on the latest block); a reverted call is refused.
   * A block the sequencer must leave empty (a fork's activation block, past the drift limit) is
   * built, and the calls go into the next one.
   */
  async send(step: string, calls: L2Call[]): Promise<LoopBlock> {
    if (calls.length === 0) throw new LoopError("loop/empty-step", `step "${step}" has no calls`, "give a step at least one call, or skip it", { step });
    const latest = await this.l2.send("eth_getBlockByNumber", ["latest", false]);
    const raws: string[] = [];
    const noncesBefore = new Map(this.nonces);
    try {
      for (const c of calls) raws.push(await this.sign(c, BigInt(latest.baseFeePerGas ?? 1)));
    } catch (e) {
      // nothing of the step is sent: its signers' nonces stay as they were
      this.nonces.clear();
      for (const [a, n] of noncesBefore) this.nonces.set(a, n);
      throw e;
    }
    let block = await this.buildBlock(raws);
    for (let tries = 0; block.batch.transactions.length === 0; tries++) {
      if (tries === 4)
        throw new LoopError("loop/not-included", `step "${step}": the sequencer left ${tries + 1} blocks in a row empty`, "check the rollup configuration's fork times and drift limit", { step });
      block = await this.buildBlock(raws);
    }
    const included: IncludedCall[] = [];
    for (const [i, raw] of raws.entries()) {
      const hash = keccak256(raw);
      const receipt = await this.l2.provider.getTransactionReceipt(hash);
      if (receipt?.status !== 1) {
        throw new LoopError("loop/tx-reverted", `"${calls[i]!.label}" reverted in L2 block ${block.ref.number}`, "read the call's revert reason with eth_call on the block before", {
          step,
          label: calls[i]!.label,
          hash,
          block: block.ref.number,
        });
      }
      const raw1 = await this.l2.send("eth_getTransactionReceipt", [hash]);
      const feePaid = receipt.gasUsed * receipt.gasPrice + BigInt(raw1.l1Fee ?? 0);
      included.push({ label: calls[i]!.label, from: calls[i]!.from.address, hash, receipt, feePaid });
    }
    const b: LoopBlock = { step, ref: block.ref, calls: included };
    this.blocks.push(b);
    return b;
  }

  /** Empty L2 blocks until the head's timestamp is past `timestamp` (seconds): time passing on L2, e.g. a challenge window's end. */
  async passTime(timestamp: number): Promise<void> {
    while (this.sequencer.unsafeHead.timestamp <= timestamp) await this.buildBlock([]);
  }

  /** Empty L2 blocks until the head is a multiple of `interval` (so an output covers the last step). */
  async padTo(interval: number): Promise<void> {
    while (this.sequencer.unsafeHead.number % interval !== 0) await this.buildBlock([]);
  }

  /** Balances on L2 (latest block). */
  async balances(addresses: readonly string[]): Promise<bigint[]> {
    return Promise.all(addresses.map((a) => this.l2.provider.getBalance(a)));
  }

  /**
   * Posts what the batcher still holds, lets L1 move on two blocks, then derives L2 from L1 alone
   * on a fresh chain with the same genesis and compares every block's hash and state root.
   */
  async finish(onProgress?: OnProgress): Promise<Derivation> {
    await this.driver.closeChannel();
    const chain = await openChain("l2", this.rollup.genesisDate);
    const commitBlob = this.opts.batcher.da === "blobs" ? await commitmentFunction() : undefined;
    const { pipeline, seconds } = await this.driver.derive(new HardhatEngine(chain), { commitBlob, altDA: this.altDA?.resolver() }, onProgress);
    this.derivation = { chain, pipeline, identicalBlocks: await identicalBlocks(this.l2, chain, this.sequencer.unsafeHead.number), seconds };
    return this.derivation;
  }

  /**
   * Output roots of the sequencer's L2 proposed to an L2OutputOracle on L1 every `interval` blocks
   * up to the derived safe head; the challenger recomputes each from the derived chain; L1 time
   * then passes the finalization period.
   */
  async settleOutputs(interval: number, finalizationPeriodSeconds?: number): Promise<OutputSettlement> {
    const d = this.derivation;
    if (!d) throw new LoopError("loop/not-derived", "output roots are proposed from the derived safe head, and derivation has not run", "call finish() first", {});
    return settleOutputRoots({ cfg: this.cfg, l1: this.l1, sequenced: this.l2, derived: d.chain, safeBlock: d.pipeline.safeHead.number, interval, finalizationPeriodSeconds });
  }

  /** The output root of an L2 block computed on the derived chain. */
  async derivedOutput(blockNumber: number) {
    if (!this.derivation) throw new LoopError("loop/not-derived", "no derived chain yet", "call finish() first", {});
    return outputAtBlock(this.derivation.chain, blockNumber);
  }

  async close(): Promise<void> {
    await Promise.all([this.l1.close(), this.l2.close(), this.derivation?.chain.close()]);
  }
}
