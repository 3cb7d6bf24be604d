import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type * as tfjs from "@tensorflow/tfjs";
import { writeDirAtomic } from "../../files.js";
import { acquireProcessLock, lockHolder, type ProcessLock, processAlive } from "../../lock.js";
import { stagingRoot } from "../../run-context.js";
import { readTensorMap } from "../../tf/index.js";
import type { Tf } from "../models/types.js";
import { decodeSafetensors, encodeSafetensors } from "../peft/safetensors.js";
import type { Optimizer } from "../train.js";
import type { FactorySpec } from "./factory-spec.js";

/** Where an unfinished run keeps what it needs to resume: one folder per spec content. */
export interface FactoryStaging {
  root: string;
  /** Trainable tensors, optimizer moments and history at the last saved step. */
  stateDir: string;
  /** Kept checkpoints until the outputs take them. */
  checkpointsDir: string;
  lockFile: string;
}

export interface SavedState {
  step: number;
  history: Array<{ step: number; loss: number; lr: number }>;
  evals: Array<{ step: number; validation_loss: number; validation_accuracy: number; test_loss: number; test_accuracy: number }>;
  seconds: number;
  specSha256: string;
}

/** The staging folder of a spec: named by spec name and content hash, so an edited spec starts afresh. */
export function factoryStaging(spec: FactorySpec, specSha256: string): FactoryStaging {
  const root = join(stagingRoot(), `${FACTORY_PREFIX}${spec.name}-${specSha256.slice(0, 12)}`);
  return { root, stateDir: join(root, "state"), checkpointsDir: join(root, "checkpoints"), lockFile: join(root, "lock") };
}

const FACTORY_PREFIX = "factory-";

/**
 * The staging folders of Factory runs that stopped without finishing (killed, or the machine
 * went down): no live process holds their lock. Each holds what `./lab factory SPEC` resumes
 * from; `./lab clean` lists them and frees them.
 */
export function stoppedFactoryRuns(root = stagingRoot()): Array<{ path: string; pid: number | undefined }> {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && entry.name.startsWith(FACTORY_PREFIX))
    .map((entry) => ({ path: join(root, entry.name), pid: lockHolder(join(root, entry.name, "lock")) }))
    .filter((run) => run.pid === undefined || !processAlive(run.pid));
}

/**
 * Stage "lock": one live run per spec. A second process resuming the same staging folder would
 * interleave checkpoints, so it is refused while the first lives; a lock left by a killed run
 * is taken over.
 */
export function lockStaging(staging: FactoryStaging, specName: string): ProcessLock {
  mkdirSync(staging.checkpointsDir, { recursive: true });
  return acquireProcessLock(staging.lockFile, `the staging folder of spec ${specName} (${staging.root})`);
}

/**
 * Saves trainable tensors, Adam moments and the run's history (atomically, as one folder). The
 * tensors are read back asynchronously first: WebGPU has no synchronous read-back.
 */
export async function saveTrainingState(stateDir: string, trainable: Record<string, tfjs.Variable>, opt: Optimizer, state: SavedState): Promise<void> {
  const prefixed = (prefix: string, vars: Record<string, tfjs.Variable>) => Object.fromEntries(Object.entries(vars).map(([k, v]) => [`${prefix}.${k}`, v]));
  const tensors = await readTensorMap({ ...prefixed("param", trainable), ...prefixed("adam_m", opt.m), ...prefixed("adam_v", opt.v) });
  writeDirAtomic(stateDir, { "state.safetensors": encodeSafetensors(tensors), "state.json": JSON.stringify(state) });
}

/**
 * Stage "resume": when a saved state exists, loads it into the trainable variables and the
 * optimizer and returns it; otherwise returns undefined and touches nothing.
 */
export function restoreTrainingState(tf: Tf, stateDir: string, trainable: Record<string, tfjs.Variable>, opt: Optimizer): SavedState | undefined {
  if (!existsSync(join(stateDir, "state.json"))) return undefined;
  const state = JSON.parse(readFileSync(join(stateDir, "state.json"), "utf8")) as SavedState;
  const { tensors } = decodeSafetensors(readFileSync(join(stateDir, "state.safetensors")));
  const load = (key: string) => tf.tensor(tensors[key].data, tensors[key].shape);
  for (const k of Object.keys(trainable)) {
    trainable[k].assign(load(`param.${k}`));
    if (opt.m[k]) {
      opt.m[k].assign(load(`adam_m.${k}`));
      opt.v[k].assign(load(`adam_v.${k}`));
    }
  }
  opt.step = state.step;
  return state;
}
