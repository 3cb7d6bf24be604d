import { keccak256, toUtf8Bytes } from "ethers";
import type { LabChain } from "../../chain/connect.js";
import { deployOrReuse } from "../../chain/contracts.js";
import type { Datanet } from "../datanets.js";
import type { FactoryResult } from "./run.js";

const hex32 = (h: string) => (h.startsWith("0x") ? h : `0x${h}`);

/** keccak256 of the manifest JSON as written to the output folder (datanets/NAME.manifest.json). */
export function manifestHash(d: Datanet): string {
  return keccak256(toUtf8Bytes(`${JSON.stringify(d.manifest)}\n`));
}

/** Registers datanets that are not yet on chain; returns their ids. */
export async function registerDatanets(chain: LabChain, datanets: Datanet[]): Promise<string[]> {
  const registry = await deployOrReuse(chain, "DatanetRegistry");
  for (const d of datanets) {
    if (await registry.exists(d.id)) continue;
    const tx = await registry.registerDatanet(
      d.id,
      d.name,
      d.manifest.merkleRoot,
      manifestHash(d),
      d.contributors.map((c) => c.address),
      d.contributors.map((c) => BigInt(c.samples)),
    );
    await tx.wait();
  }
  return datanets.map((d) => d.id);
}

/** Records a Factory result: base-model hash, adapter hash, datanet ids, spec hash, metrics hash. */
export async function registerFactoryResult(chain: LabChain, result: FactoryResult): Promise<{ modelId: string; txHash: string; datanetIds: string[]; registry: string }> {
  const datanetIds = await registerDatanets(chain, result.datanets);
  const datanetRegistry = await deployOrReuse(chain, "DatanetRegistry");
  const registry = await deployOrReuse(chain, "ModelRegistry", [await datanetRegistry.getAddress()]);
  const args = [hex32(result.baseSha256), hex32(result.adapterSha256), hex32(result.specSha256)] as const;
  const modelId: string = await registry.modelIdOf(...args);
  const tx = await registry.registerModel(result.spec.name, args[0], args[1], datanetIds, args[2], hex32(result.metricsSha256));
  const receipt = await tx.wait();
  return { modelId, txHash: receipt.hash, datanetIds, registry: await registry.getAddress() };
}
