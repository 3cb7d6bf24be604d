/**
 * The contracts' ABIs as TypeScript types, written from Hardhat's artifacts. `./lab setup` runs
 * this file after every compile (`node --import tsx lib/chain/abi-types.ts`), so a contract's
 * changed functions reach the typed facades (lib/chain/contract-types.ts) with no hand edit. The
 * output, lib/chain/contract-abis.generated.ts, is build output: ignored by git, like artifacts/.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { fromRoot, writeFileAtomic } from "../files.js";
import { ContractArtifactMissingError } from "./errors.js";

export const ABI_TYPES_FILE = fromRoot("lib", "chain", "contract-abis.generated.ts");

/** Every contract artifact under artifacts/contracts (not build-info, not debug files), by contract name. */
export function contractArtifactFiles(dir = fromRoot("artifacts", "contracts")): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".json") && !entry.name.endsWith(".dbg.json")) found.set(entry.name.slice(0, -".json".length), path);
    }
  };
  if (existsSync(dir)) walk(dir);
  return found;
}

/** The generated module's text: one interface member per contract, its ABI as a literal type. */
export function abiTypesSource(dir = fromRoot("artifacts", "contracts")): string {
  const files = contractArtifactFiles(dir);
  if (files.size === 0)
    throw new ContractArtifactMissingError({
      code: "chain/artifact-missing",
      message: `no compiled contract artifacts under ${dir}`,
      hint: "compile the contracts first (`./lab setup` or `npx hardhat compile`)",
      fields: { dir },
    });
  const members = [...files.keys()].sort().map((name) => {
    const { abi } = JSON.parse(readFileSync(files.get(name)!, "utf8")) as { abi: unknown[] };
    return `  readonly ${JSON.stringify(name)}: ${JSON.stringify(abi)};`;
  });
  return [
    "// Written by lib/chain/abi-types.ts from Hardhat's artifacts when the contracts are compiled (./lab setup); do not edit.",
    "/** Each contract's ABI as a literal type, read by lib/chain/contract-types.ts. */",
    "export interface ContractAbis {",
    ...members,
    "}",
    "",
  ].join("\n");
}

/** Writes the generated module when its text changed (atomically); returns whether it wrote. */
export function writeAbiTypes(file = ABI_TYPES_FILE): boolean {
  const text = abiTypesSource();
  if (existsSync(file) && readFileSync(file, "utf8") === text) return false;
  writeFileAtomic(file, text);
  return true;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) writeAbiTypes();
