// A seeded generator of realistic signed L2 transactions: ETH transfers (EIP-1559 and
// legacy EIP-155), ERC-20 transfers and approvals (the approvals as EIP-2930 transactions
// with an access list), and the AI transactions of this project: inferences paid in the call
// (InferenceReceipts, whose data share funds the RewardDistributor's pool) and reward epochs the
// attester opens from that pool. The same
// seed gives byte-identical transactions, so batches, compression ratios and block hashes
// are reproducible.
import { AbiCoder, type AccessList, getCreateAddress, Interface, keccak256, Transaction, type TransactionLike, Wallet } from "ethers";
import type { ContractName } from "../chain/contract-types.js";
import { artifact } from "../chain/contracts.js";
import { type Rng, rng } from "../random.js";
import { fromHex, toHex } from "./bytes.js";
import { ConfigError } from "./errors.js";

export type TxKind = "deploy" | "register-model" | "eip1559-transfer" | "legacy-transfer" | "erc20-transfer" | "erc20-approve-2930" | "inference-receipt" | "attribution-payout";

export interface GeneratedTx {
  kind: TxKind;
  /** EIP-2718 encoded signed transaction. */
  raw: Uint8Array;
  hash: string;
  from: string;
}

/** Share of each kind in the steady-state mix (a DEX-free chain with AI traffic). */
export const DEFAULT_MIX: Record<Exclude<TxKind, "deploy" | "register-model">, number> = {
  "eip1559-transfer": 0.25,
  "legacy-transfer": 0.08,
  "erc20-transfer": 0.27,
  "erc20-approve-2930": 0.05,
  "inference-receipt": 0.22,
  "attribution-payout": 0.13,
};

export interface WorkloadOptions {
  seed: number;
  chainId: bigint;
  /** Private keys of the funded senders (the chain's development accounts). */
  senderKeys: readonly string[];
  mix?: Partial<typeof DEFAULT_MIX>;
  /** Distinct recipients outside the sender set. */
  recipients?: number;
  /** Distinct registered models. */
  models?: number;
  /** The data share of each inference fee in basis points (config/fee-split.yaml's dataBps). */
  dataShareBps?: number;
}

const GWEI = 1_000_000_000n;

export class Workload {
  readonly token: string;
  readonly distributor: string;
  readonly receipts: string;
  readonly modelIds: string[];
  /** Each model's key in InferenceReceipts (its id namespaced by its owner) and fee per token, once set up. */
  private readonly models: { key: string; feePerToken: bigint }[] = [];
  /** The reward pool's balance the generated transactions leave, so an epoch never asks for more. */
  private rewardPool = 0n;
  private readonly wallets: Wallet[];
  private readonly nonces: number[];
  private readonly r: Rng;
  private readonly recipients: string[];
  private readonly mix: [TxKind, number][];
  private readonly erc20 = new Interface(["function transfer(address,uint256)", "function approve(address,uint256)"]);
  private readonly receiptsAbi = new Interface(["function registerModel(bytes32,uint96)", "function recordInference(bytes32,bytes32,bytes32,uint32,uint32) payable"]);
  private readonly distributorAbi = new Interface(["function createEpochFromPool(bytes32,uint256,bytes32)"]);
  private setupDone = false;

  constructor(readonly opts: WorkloadOptions) {
    if (opts.senderKeys.length < 4) throw new ConfigError("workload/too-few-senders", { count: opts.senderKeys.length });
    this.wallets = opts.senderKeys.map((k) => new Wallet(k));
    this.nonces = this.wallets.map(() => 0);
    this.r = rng(opts.seed).fork("ledger-workload");
    const rr = this.r.fork("recipients");
    this.recipients = Array.from({ length: opts.recipients ?? 200 }, () => toHex(randomBytes(rr, 20)));
    const deployer = this.wallets[0]!.address;
    this.token = getCreateAddress({ from: deployer, nonce: 0 });
    this.distributor = getCreateAddress({ from: deployer, nonce: 1 });
    this.receipts = getCreateAddress({ from: deployer, nonce: 2 });
    const rm = this.r.fork("models");
    this.modelIds = Array.from({ length: opts.models ?? 8 }, () => toHex(randomBytes(rm, 32)));
    const m = { ...DEFAULT_MIX, ...opts.mix };
    this.mix = Object.entries(m).filter(([, w]) => w > 0) as [TxKind, number][];
  }

  get senders(): string[] {
    return this.wallets.map((w) => w.address);
  }

  private sign(kind: TxKind, i: number, fields: TransactionLike<string> & { type: number }): GeneratedTx {
    const w = this.wallets[i]!;
    const tx = Transaction.from({ chainId: this.opts.chainId, nonce: this.nonces[i]!, ...fields });
    tx.signature = w.signingKey.sign(tx.unsignedHash);
    this.nonces[i]! += 1;
    const raw = fromHex(tx.serialized);
    return { kind, raw, hash: keccak256(raw), from: w.address };
  }

  private fees(): { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } {
    // Priority fees vary like real wallets' suggestions; the fee cap leaves room for base fee rises.
    return { maxFeePerGas: 5n * GWEI, maxPriorityFeePerGas: BigInt(1 + this.r.int(100)) * (GWEI / 1000n) };
  }

  /** Contract deployments and model registrations that the steady-state mix relies on. */
  setup(): GeneratedTx[] {
    if (this.setupDone) throw new ConfigError("workload/setup-repeated");
    this.setupDone = true;
    const deployData = (name: ContractName, args: unknown[]) => {
      const a = artifact(name);
      return a.bytecode + new Interface(a.abi).encodeDeploy(args).slice(2);
    };
    const deployer = this.wallets[0]!.address;
    const out: GeneratedTx[] = [
      this.sign("deploy", 0, { type: 2, to: null, data: deployData("LabToken", [this.senders, 1_000_000n * 10n ** 18n]), gasLimit: 3_000_000n, ...this.fees() }),
      this.sign("deploy", 0, { type: 2, to: null, data: deployData("RewardDistributor", [deployer]), gasLimit: 2_000_000n, ...this.fees() }),
      this.sign("deploy", 0, {
        type: 2,
        to: null,
        data: deployData("InferenceReceipts", [deployer, this.distributor, this.opts.dataShareBps ?? 5000, []]),
        gasLimit: 3_000_000n,
        ...this.fees(),
      }),
    ];
    this.modelIds.forEach((id, k) => {
      const owner = 1 + (k % (this.wallets.length - 1));
      const fee = BigInt(1 + this.r.int(50)) * 10n ** 12n;
      this.models.push({ key: keccak256(AbiCoder.defaultAbiCoder().encode(["address", "bytes32"], [this.wallets[owner]!.address, id])), feePerToken: fee });
      out.push(this.sign("register-model", owner, { type: 2, to: this.receipts, data: this.receiptsAbi.encodeFunctionData("registerModel", [id, fee]), gasLimit: 150_000n, ...this.fees() }));
    });
    return out;
  }

  private pickKind(): TxKind {
    const total = this.mix.reduce((a, [, w]) => a + w, 0);
    let x = this.r.next() * total;
    for (const [k, w] of this.mix) {
      x -= w;
      if (x < 0) return k;
    }
    return this.mix[this.mix.length - 1]![0];
  }

  private recipient(): string {
    // Mostly external recipients, sometimes another sender: transfers between known accounts.
    return this.r.next() < 0.2 ? this.senders[this.r.int(this.senders.length)]! : this.recipients[this.r.int(this.recipients.length)]!;
  }

  /** The next transaction of the mix. */
  next(): GeneratedTx {
    if (!this.setupDone) throw new ConfigError("workload/setup-missing");
    const i = this.r.int(this.wallets.length);
    const kind = this.pickKind();
    // Human-looking amounts: a few significant digits times a power of ten.
    const amount = BigInt(1 + this.r.int(999)) * 10n ** BigInt(12 + this.r.int(6));
    switch (kind) {
      case "eip1559-transfer":
        return this.sign(kind, i, { type: 2, to: this.recipient(), value: amount, gasLimit: 21_000n, ...this.fees() });
      case "legacy-transfer":
        return this.sign(kind, i, { type: 0, to: this.recipient(), value: amount, gasLimit: 21_000n, gasPrice: 3n * GWEI });
      case "erc20-transfer":
        return this.sign(kind, i, { type: 2, to: this.token, data: this.erc20.encodeFunctionData("transfer", [this.recipient(), amount]), gasLimit: 70_000n, ...this.fees() });
      case "erc20-approve-2930": {
        const spender = this.recipient();
        const accessList: AccessList = [{ address: this.token, storageKeys: [keccak256(fromHex(spender.padEnd(66, "0")))] }];
        return this.sign(kind, i, { type: 1, to: this.token, data: this.erc20.encodeFunctionData("approve", [spender, amount]), gasLimit: 70_000n, gasPrice: 3n * GWEI, accessList });
      }
      case "inference-receipt":
        return this.inference(i);
      case "attribution-payout": {
        // The attester (the distributor's owner) opens a reward epoch from the pool the fees' data
        // share filled; with nothing in the pool yet, an inference instead.
        if (this.rewardPool === 0n) return this.inference(i);
        const total = this.rewardPool / 2n + 1n;
        this.rewardPool -= total;
        const data = this.distributorAbi.encodeFunctionData("createEpochFromPool", [toHex(randomBytes(this.r, 32)), total, toHex(randomBytes(this.r, 32))]);
        return this.sign(kind, 0, { type: 2, to: this.distributor, data, gasLimit: 200_000n, ...this.fees() });
      }
      default:
        throw new ConfigError("workload/unknown-kind", { kind });
    }
  }

  /** An inference on a random model, its fee paid in the call. */
  private inference(i: number): GeneratedTx {
    const model = this.models[this.r.int(this.models.length)]!;
    const tokensIn = 20 + this.r.int(2000);
    const tokensOut = 10 + this.r.int(1000);
    const fee = model.feePerToken * BigInt(tokensIn + tokensOut);
    this.rewardPool += (fee * BigInt(this.opts.dataShareBps ?? 5000)) / 10_000n;
    const data = this.receiptsAbi.encodeFunctionData("recordInference", [model.key, toHex(randomBytes(this.r, 32)), toHex(randomBytes(this.r, 32)), tokensIn, tokensOut]);
    return this.sign("inference-receipt", i, { type: 2, to: this.receipts, data, value: fee, gasLimit: 200_000n, ...this.fees() });
  }

  take(n: number): GeneratedTx[] {
    return Array.from({ length: n }, () => this.next());
  }
}

function randomBytes(r: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const v = r.uint32();
    for (let k = 0; k < 4 && i + k < n; k++) out[i + k] = (v >>> (8 * k)) & 0xff;
  }
  return out;
}
