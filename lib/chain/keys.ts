import { HDNodeWallet, type Provider, Wallet } from "ethers";

/** The mnemonic behind Hardhat's (and Anvil's) well-known development accounts: public, so never for real funds. */
export const DEV_MNEMONIC = "test test test test test test test test test test test junk";
export const DEV_ACCOUNT_COUNT = 20;

let devKeys: string[] | undefined;

export function devPrivateKey(index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= DEV_ACCOUNT_COUNT) {
    throw new RangeError(`development account index must be 0..${DEV_ACCOUNT_COUNT - 1}, got ${index}`);
  }
  return devPrivateKeys()[index];
}

export function devPrivateKeys(): string[] {
  devKeys ??= Array.from({ length: DEV_ACCOUNT_COUNT }, (_, i) => HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey);
  return devKeys;
}

export function isDevKey(privateKey: string): boolean {
  const normalized = new Wallet(privateKey).privateKey.toLowerCase();
  return devPrivateKeys().some((k) => k.toLowerCase() === normalized);
}

export function devWallet(index: number, provider?: Provider): Wallet {
  return new Wallet(devPrivateKey(index), provider);
}

/** True for the address of one of the public development accounts. */
export function isDevAddress(address: string): boolean {
  devAddresses ??= new Set(devPrivateKeys().map((k) => new Wallet(k).address.toLowerCase()));
  return devAddresses.has(address.toLowerCase());
}

let devAddresses: Set<string> | undefined;
