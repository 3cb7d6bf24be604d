import { type BlockTag, type Provider, type TransactionRequest, type TransactionResponse, Wallet } from "ethers";

/**
 * A wallet that hands out its own nonces. A node's `eth_getTransactionCount(address, "pending")`
 * lags behind what was just sent (an RPC provider caches the answer; an interval-mining node or a
 * load-balanced endpoint may not count its pool yet), so two transactions sent back to back (a
 * deployment, then a settlement) would both get the nonce the node last reported. This wallet
 * takes the larger of the node's count and the next nonce it handed out itself, reserves it, and
 * forgets its own count whenever a send fails, so a refused transaction leaves no gap.
 */
export class ManagedWallet extends Wallet {
  #next: number | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(privateKey: string, provider?: Provider | null) {
    super(privateKey, provider);
  }

  /** The next nonce to use, reserved for the caller: "pending" (the default) is managed, other block tags ask the node. */
  override async getNonce(blockTag?: BlockTag): Promise<number> {
    if (blockTag !== undefined && blockTag !== "pending") return super.getNonce(blockTag);
    const reserve = this.#queue.then(async () => {
      const reported = await super.getNonce("pending");
      const nonce = Math.max(reported, this.#next ?? 0);
      this.#next = nonce + 1;
      return nonce;
    });
    this.#queue = reserve.catch(() => undefined);
    return reserve;
  }

  /** Drops the locally counted nonce: the next transaction starts again from the node's count. */
  resyncNonce(): void {
    this.#next = undefined;
  }

  override async sendTransaction(tx: TransactionRequest): Promise<TransactionResponse> {
    try {
      return await super.sendTransaction(tx);
    } catch (error) {
      this.resyncNonce();
      throw error;
    }
  }

  /** Broadcasts a transaction this wallet signed itself (a settlement keeps its raw bytes). */
  async broadcastSigned(rawTransaction: string): Promise<TransactionResponse> {
    try {
      return await this.provider!.broadcastTransaction(rawTransaction);
    } catch (error) {
      this.resyncNonce();
      throw error;
    }
  }

  override connect(provider: Provider | null): ManagedWallet {
    return new ManagedWallet(this.privateKey, provider);
  }
}

const perProvider = new WeakMap<Provider, Map<string, ManagedWallet>>();

/** The one managed wallet of this key on this provider: every caller shares its nonce count. */
export function managedWallet(privateKey: string, provider: Provider): ManagedWallet {
  let wallets = perProvider.get(provider);
  if (!wallets) {
    wallets = new Map();
    perProvider.set(provider, wallets);
  }
  const key = new Wallet(privateKey).address;
  let wallet = wallets.get(key);
  if (!wallet) {
    wallet = new ManagedWallet(privateKey, provider);
    wallets.set(key, wallet);
  }
  return wallet;
}
