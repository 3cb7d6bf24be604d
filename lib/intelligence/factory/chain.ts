import { keccak256, toUtf8Bytes } from "ethers";
import type { LabChain } from "../../chain/connect.js";
import { bytes32Hex, deployOrReuse } from "../../chain/contracts.js";
import type { Datanet } from "../datanets.js";
import type { FactoryResult } from "./fine-tune.js";

/** keccak256 of the manifest JSON as written to the output folder (datanets/NAME.manifest.json). */
export function manifestHash(d: Pick<Datanet, "manifest">): string {
  return keccak256(toUtf8Bytes(`${JSON.stringify(d.manifest)}\n`));
}

/** DatanetRegistry.registerDatanet's arguments: id, name, Merkle root, manifest hash, contributors and their sample counts. */
export function datanetRegistration(d: Datanet): [string, string, string, string, string[], bigint[]] {
  return [d.id, d.name, d.manifest.merkleRoot, manifestHash(d), d.contributors.map((c) => c.address), d.contributors.map((c) => BigInt(c.samples))];
}

/** What ModelRegistry records of a Model Factory run. */
export interface ModelRecordInput {
  name: string;
  baseSha256: string;
  adapterSha256: string;
  specSha256: string;
  metricsSha256: string;
  datanetIds: string[];
}

/** ModelRegistry.modelIdOf's arguments: the base-model, adapter and spec hashes that identify a model. */
export function modelIdArgs(m: ModelRecordInput): [string, string, string] {
  return [bytes32Hex(m.baseSha256), bytes32Hex(m.adapterSha256), bytes32Hex(m.specSha256)];
}

/** ModelRegistry.registerModel's arguments: name, base-model and adapter hashes, datanet ids, spec and metrics hashes. */
export function modelRegistration(m: ModelRecordInput): [string, string, string, string[], string, string] {
  const [base, adapter, spec] = modelIdArgs(m);
  return [m.name, base, adapter, m.datanetIds, spec, bytes32Hex(m.metricsSha256)];
}

/** Registers datanets that are not yet on chain; returns their ids. */
export async function registerDatanets(chain: LabChain, datanets: Datanet[]): Promise<string[]> {
  const registry = await deployOrReuse(chain, "DatanetRegistry");
  for (const d of datanets) {
    if (await registry.exists(d.id)) continue;
    const tx = await registry.registerDatanet(...datanetRegistration(d));
    await tx.wait();
  }
  return datanets.map((d) => d.id);
}

/** Records a Factory result: base-model hash, adapter hash, datanet ids, spec hash, metrics hash. */
export async function registerFactoryResult(chain: LabChain, result: FactoryResult): Promise<{ modelId: string; txHash: string; datanetIds: string[]; registry: string }> {
  const datanetIds = await registerDatanets(chain, result.datanets);
  const datanetRegistry = await deployOrReuse(chain, "DatanetRegistry");
  const registry = await deployOrReuse(chain, "ModelRegistry", [await datanetRegistry.getAddress()]);
  const record: ModelRecordInput = { ...result, name: result.spec.name, datanetIds };
  const modelId = await registry.modelIdOf(...modelIdArgs(record));
  const tx = await registry.registerModel(...modelRegistration(record));
  await tx.wait();
  return { modelId, txHash: tx.hash, datanetIds, registry: await registry.getAddress() };
}
