import { BrowserProvider, type Eip1193Provider, type JsonRpcApiProvider, JsonRpcProvider } from "ethers";
import { projectRoot } from "../files.js";
import { ChainIdMismatchError, DevKeyRefusedError, MissingKeyError, RpcUnreachableError } from "./errors.js";
import { devPrivateKey, isDevKey } from "./keys.js";
import { type ManagedWallet, managedWallet } from "./nonces.js";

export type InProcessNetwork = "default" | "l1" | "l2";

export interface ConnectOptions {
  /** An in-process Hardhat network from hardhat.config.ts (default: "default"). */
  network?: InProcessNetwork;
  /** A JSON-RPC endpoint; defaults to LAB_RPC_URL. When set, `network` is ignored. */
  rpcUrl?: string;
  /** The chain id the endpoint must have; defaults to LAB_CHAIN_ID when set. */
  expectedChainId?: bigint | number;
  /** The signing key on an RPC chain; defaults to LAB_PRIVATE_KEY, then (local chains only) development account 0. */
  privateKey?: string;
  /** Milliseconds to wait for the endpoint to answer. */
  timeoutMs?: number;
}

export interface LabChain {
  kind: "in-process" | "rpc";
  /** The in-process network name, or the RPC URL. */
  name: string;
  url?: string;
  chainId: bigint;
  /** A local development chain (in-process, or a Hardhat/Anvil node on loopback): development keys allowed. */
  local: boolean;
  provider: JsonRpcApiProvider;
  /** The signing wallet; it counts its own nonces, so transactions sent back to back never collide. */
  signer: ManagedWallet;
  /** Development account i (local chains only), with managed nonces like the signer. */
  wallet(index: number): ManagedWallet;
  /** Moves the chain's clock forward (development chains). */
  increaseTime(seconds: number): Promise<void>;
  mine(blocks?: number): Promise<void>;
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);
const DEV_CLIENT = /hardhat|anvil|ganache|edr/i;
const inProcess = new Map<InProcessNetwork, Promise<LabChain>>();

/**
 * Connects to the chain a notebook settles on: the in-process Hardhat network by default, or the
 * JSON-RPC endpoint in `rpcUrl` / LAB_RPC_URL, checked to answer and to have the expected chain id.
 * In-process connections are shared within a process (one chain per notebook kernel).
 */
export function connect(options: ConnectOptions = {}): Promise<LabChain> {
  const url = options.rpcUrl ?? process.env.LAB_RPC_URL;
  if (url) return connectRpc(url, options);
  const network = options.network ?? "default";
  let chain = inProcess.get(network);
  if (!chain) {
    chain = connectInProcess(network);
    inProcess.set(network, chain);
    chain.catch(() => inProcess.delete(network));
  }
  return chain;
}

type HardhatRuntime = Awaited<ReturnType<typeof import("hardhat/hre")["createHardhatRuntimeEnvironment"]>>;
let runtime: Promise<HardhatRuntime> | undefined;

/** The project's Hardhat runtime (hardhat.config.ts), created once per process. */
export function hardhatRuntime(): Promise<HardhatRuntime> {
  runtime ??= (async () => {
    const root = projectRoot();
    const { createHardhatRuntimeEnvironment, importUserConfig } = await import("hardhat/hre");
    const configPath = `${root}/hardhat.config.ts`;
    return createHardhatRuntimeEnvironment(await importUserConfig(configPath), { config: configPath }, root);
  })();
  return runtime;
}

/** An ethers provider over an in-process chain: answers come at once, so poll fast and cache nothing. */
export function inProcessProvider(eip1193: unknown): BrowserProvider {
  return new BrowserProvider(eip1193 as Eip1193Provider, undefined, { pollingInterval: 20, cacheTimeout: -1 });
}

async function connectInProcess(network: InProcessNetwork): Promise<LabChain> {
  const connection = await (await hardhatRuntime()).network.connect({ network });
  const provider = inProcessProvider(connection.provider);
  const chainId = (await provider.getNetwork()).chainId;
  return makeChain({
    kind: "in-process",
    name: network,
    chainId,
    local: true,
    provider,
    signer: managedWallet(devPrivateKey(0), provider),
    close: async () => {
      await connection.close();
      inProcess.delete(network);
    },
  });
}

const FALLBACK_HINT = "start a local node with `./lab chain` and set LAB_RPC_URL=http://127.0.0.1:8545, or unset LAB_RPC_URL to settle on the in-process Hardhat network";

/** The endpoint as a URL, refused before any request when it is not an http(s) or ws(s) URL. */
export function parseRpcUrl(url: string): URL {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !/^(https?|wss?):$/.test(parsed.protocol)) {
    throw new RpcUnreachableError({
      code: "chain/bad-url",
      fields: { url },
      message: `LAB_RPC_URL is "${url}", which is not an http(s) or ws(s) URL`,
      hint: `write it in full, e.g. http://127.0.0.1:8545; or ${FALLBACK_HINT}`,
    });
  }
  return parsed;
}

async function rpcCall(url: string, method: string, timeoutMs: number): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const timedOut = (error as Error).name === "TimeoutError";
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = timedOut ? `no answer within ${timeoutMs / 1000} s` : String(cause?.code ?? cause?.message ?? (error as Error).message);
    throw new RpcUnreachableError({
      code: timedOut ? "chain/no-answer" : "chain/unreachable",
      fields: { url, method, timeoutMs, reason },
      message: `the JSON-RPC endpoint ${url} does not answer (${reason})`,
      hint: `check the URL and that the node runs; ${FALLBACK_HINT}`,
      cause: error,
    });
  }
  const body = (await response.json().catch(() => undefined)) as { result?: unknown; error?: { message: string } } | undefined;
  if (!response.ok || !body || body.error) {
    const answer = body?.error?.message ?? `HTTP ${response.status}`;
    throw new RpcUnreachableError({
      code: "chain/not-json-rpc",
      fields: { url, method, answer },
      message: `${url} answered ${method} with ${answer}`,
      hint: `point LAB_RPC_URL at an Ethereum JSON-RPC endpoint; ${FALLBACK_HINT}`,
    });
  }
  return body.result;
}

function expectedChainId(raw: bigint | number | string | undefined): bigint | undefined {
  if (raw === undefined || raw === "") return undefined;
  try {
    return BigInt(raw);
  } catch {
    throw new ChainIdMismatchError({
      code: "chain/bad-chain-id",
      fields: { expected: String(raw) },
      message: `LAB_CHAIN_ID is "${raw}", which is not a chain id`,
      hint: "set LAB_CHAIN_ID to a decimal chain id (e.g. 31337), or unset it",
    });
  }
}

async function connectRpc(url: string, options: ConnectOptions): Promise<LabChain> {
  const host = parseRpcUrl(url).hostname;
  const expected = expectedChainId(options.expectedChainId ?? process.env.LAB_CHAIN_ID);
  const timeoutMs = options.timeoutMs ?? 5000;
  const chainId = BigInt((await rpcCall(url, "eth_chainId", timeoutMs)) as string);
  if (expected !== undefined && expected !== chainId) {
    throw new ChainIdMismatchError({
      code: "chain/id-mismatch",
      fields: { url, chainId, expected },
      message: `${url} has chain id ${chainId}, but chain id ${expected} was expected`,
      hint: `point LAB_RPC_URL at the chain with id ${expected}, or set LAB_CHAIN_ID=${chainId} if this chain is the one you mean`,
    });
  }
  const clientVersion = String(await rpcCall(url, "web3_clientVersion", timeoutMs).catch(() => ""));
  const local = LOOPBACK.has(host) && (DEV_CLIENT.test(clientVersion) || chainId === 31337n || chainId === 1337n);
  const key = options.privateKey ?? process.env.LAB_PRIVATE_KEY;
  if (key && !local && isDevKey(key)) {
    throw new DevKeyRefusedError({
      code: "chain/dev-key-refused",
      fields: { url, chainId },
      message: `the signing key is one of Hardhat's public development keys, and ${url} (chain ${chainId}) is not a local development chain`,
      hint: "set LAB_PRIVATE_KEY to a key of your own funded on that chain; development keys are public and anything they hold can be taken",
    });
  }
  if (!key && !local) {
    throw new MissingKeyError({
      code: "chain/missing-key",
      fields: { url, chainId },
      message: `no signing key for ${url} (chain ${chainId}), which is not a local development chain`,
      hint: "set LAB_PRIVATE_KEY to a funded key of your own for that chain",
    });
  }
  const provider = new JsonRpcProvider(url, chainId, { staticNetwork: true, pollingInterval: local ? 50 : 2000 });
  const signer = managedWallet(key ?? devPrivateKey(0), provider);
  return makeChain({ kind: "rpc", name: url, url, chainId, local, provider, signer, close: async () => provider.destroy() });
}

/**
 * Checks the chain a run will settle on, before any work: with LAB_RPC_URL set, that it is a URL,
 * answers within 5 s, has LAB_CHAIN_ID (when set) and has a usable key. Returns a one-line
 * description; throws the connect error otherwise.
 */
export async function checkChain(options: ConnectOptions = {}): Promise<string> {
  const url = options.rpcUrl ?? process.env.LAB_RPC_URL;
  if (!url) return "the in-process Hardhat network";
  const chain = await connect({ ...options, rpcUrl: url });
  await chain.close();
  return `${url} (chain ${chain.chainId}${chain.local ? ", local development chain" : ""}, signer ${chain.signer.address})`;
}

function makeChain(base: Pick<LabChain, "kind" | "name" | "chainId" | "local" | "provider" | "signer" | "close"> & { url?: string }): LabChain {
  return {
    ...base,
    wallet(index) {
      if (!base.local) {
        throw new DevKeyRefusedError({
          code: "chain/dev-account-refused",
          fields: { chain: base.name, index },
          message: `development account ${index} asked for on ${base.name}, which is not a local development chain`,
          hint: "use chain.signer (from LAB_PRIVATE_KEY) on public chains",
        });
      }
      return managedWallet(devPrivateKey(index), base.provider);
    },
    async increaseTime(seconds) {
      await base.provider.send("evm_increaseTime", [seconds]);
      await base.provider.send("evm_mine", []);
    },
    async mine(blocks = 1) {
      for (let i = 0; i < blocks; i++) await base.provider.send("evm_mine", []);
    },
  };
}
