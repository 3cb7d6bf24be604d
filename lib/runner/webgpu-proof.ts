import { cpSync, existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { cacheRoot } from "../cache.js";
import { verifySettlement } from "../chain/verify-run.js";
import { describeError } from "../errors.js";
import { readJson } from "../files.js";
import { textTable } from "../notebook/table.js";
import { findLibrary } from "../tf/webgpu.js";
import { WEBGPU_PROOF_NOTEBOOKS, WEBGPU_VS_WASM } from "./backend-tolerances.js";
import { compareRunFolders, comparisonRows } from "./compare-runs.js";
import { type NotebookPlan, preflight, type RunOptions, runNotebook } from "./run-notebooks.js";

/**
 * The WebGPU proof on a machine with no GPU (`./lab test --webgpu`): notebooks 03–06 in quick mode
 * with LAB_TF_BACKEND=webgpu, which on such a machine is Mesa's llvmpipe through Dawn's GL ES
 * backend; each run settled and verified like ./lab test's; then every recorded figure compared
 * with the wasm run of the same notebook, seed and parameters under the tolerance table of
 * backend-tolerances.ts.
 *
 * The webgpu runs have a cache of their own, so nothing they compute lands in the lab's cache,
 * where a later wasm run would read it and lose its bit-for-bit figures. By default it starts as a
 * copy of the lab's cache, which ./lab test has just filled on wasm: entries keyed by a seed (the
 * pretrained base checkpoints) or by inputs the notebook does not train (LDS ground truths) are
 * read, and whatever depends on weights trained in the run (adapters, their gradients and scores)
 * misses and is computed on webgpu. `fresh` starts it empty: everything on webgpu, many times
 * longer on llvmpipe.
 */

/** The shared libraries Dawn's GL ES backend opens (Debian: libegl1 + libegl-mesa0, libgles2). */
const MESA_LIBRARIES = ["libEGL.so.1", "libGLESv2.so.2"];
export const MESA_PACKAGES = "libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri";

/**
 * Why the proof cannot run on this machine, or undefined: only when Mesa's EGL and GL ES are
 * missing (the lab's set-up installs them when it runs as root, so: no root, or no apt).
 */
export function webGpuProofSkipReason(find: (soname: string) => string | undefined = findLibrary): string | undefined {
  const missing = MESA_LIBRARIES.filter((soname) => !find(soname));
  if (missing.length === 0) return undefined;
  return `Mesa's EGL and GL ES are not installed (${missing.join(", ")} not found) and the set-up could not install them (it needs root and apt-get): as root, apt-get install -y ${MESA_PACKAGES}`;
}

export interface StepCounts {
  passed: number;
  failed: number;
}

interface RunFolderManifest {
  notebook: string;
  runId: string;
  tfBackend: string;
  parameters: Record<string, unknown>;
  git: { commit: string | null };
}

/** What a reference run must share with the run it is compared with. */
export interface RunIdentity {
  notebook: string;
  backend: string;
  parameters: Record<string, unknown>;
  /** The git commit both ran from: the same code, so only the backend differs. */
  commit: string | null;
}

const sameParameters = (a: Record<string, unknown>, b: Record<string, unknown>) => Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => Object.is(b[k], v));

/** The latest run folder in `runsDir` of the notebook, on the backend, with exactly the parameters and commit asked for, or undefined. */
export function latestRun(runsDir: string, wanted: RunIdentity): string | undefined {
  if (!existsSync(runsDir)) return undefined;
  const matching = readdirSync(runsDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(runsDir, e.name, "manifest.json")))
    .map((e) => ({ dir: join(runsDir, e.name), manifest: readJson<RunFolderManifest>(join(runsDir, e.name, "manifest.json")) }))
    .filter(({ manifest: m }) => m.notebook === wanted.notebook && m.tfBackend === wanted.backend && sameParameters(m.parameters, wanted.parameters) && m.git?.commit === wanted.commit)
    .sort((a, b) => (a.manifest.runId < b.manifest.runId ? -1 : 1));
  return matching.at(-1)?.dir;
}

export interface WebGpuProofOptions {
  /** The proof's own folder: runs/, cache/ and, when ./lab test left none, wasm-runs/. */
  dir: string;
  /** Where ./lab test landed its wasm runs of every notebook in quick mode. */
  referenceRuns: string;
  cellTimeoutS: number;
  /** Start the webgpu runs' cache empty instead of from a copy of the lab's cache. */
  fresh?: boolean;
  log?: (line: string) => void;
}

/** The planned notebooks of the proof (quick mode, declared seed), checked before anything runs. */
export async function planWebGpuProof(options: WebGpuProofOptions): Promise<NotebookPlan[]> {
  return (await preflight(runOptions(options, "runs"))).plans;
}

function runOptions(options: WebGpuProofOptions, runs: string, env: Record<string, string> = {}): RunOptions {
  return { names: [...WEBGPU_PROOF_NOTEBOOKS], quick: true, sets: {}, cellTimeoutS: options.cellTimeoutS, runsDir: join(options.dir, runs), env };
}

/** Runs one plan and verifies its settlement: the run folder, or a failure line. */
async function runVerified(plan: NotebookPlan, options: RunOptions, log: (line: string) => void): Promise<string | undefined> {
  const outcome = await runNotebook(plan, options, log);
  try {
    if (!outcome.ok) throw new Error(outcome.error);
    const v = await verifySettlement(outcome.runDir!);
    log(`  ✓ ${outcome.notebook} on ${options.env?.LAB_TF_BACKEND ?? "the default backend"} (${outcome.seconds.toFixed(1)} s), settlement verified: ${v.settlement.txHash}`);
    return outcome.runDir;
  } catch (error) {
    log(`  ✗ ${describeError(error)}`);
    return undefined;
  }
}

/**
 * Step 1: each notebook on webgpu, with the proof's own cache; a notebook passes when it ran to
 * the end, settled and its settlement verified. Returns the landed run folders by notebook.
 */
export async function runOnWebGpu(plans: NotebookPlan[], options: WebGpuProofOptions): Promise<StepCounts & { runs: Map<string, string> }> {
  const log = options.log ?? console.log;
  const cache = join(options.dir, "cache");
  rmSync(join(options.dir, "runs"), { recursive: true, force: true });
  rmSync(cache, { recursive: true, force: true });
  if (!options.fresh && existsSync(cacheRoot())) {
    log(`  the webgpu runs' cache starts as a copy of ${cacheRoot()} (--fresh-cache: empty)`);
    cpSync(cacheRoot(), cache, { recursive: true });
  }
  const run = runOptions(options, "runs", { LAB_TF_BACKEND: "webgpu", LAB_CACHE_DIR: cache });
  const runs = new Map<string, string>();
  for (const plan of plans) {
    const dir = await runVerified(plan, run, log);
    if (dir) runs.set(plan.notebook.name, dir);
  }
  return { passed: runs.size, failed: plans.length - runs.size, runs };
}

/**
 * Step 2: every recorded figure of each webgpu run against the wasm run of the same notebook,
 * commit and parameters: ./lab test's when there is one, else one run here on wasm. Counts one per figure
 * compared (excluded figures count nothing); a notebook whose webgpu run failed counts nothing
 * here (step 1 counted it).
 */
export async function compareWithWasm(plans: NotebookPlan[], webgpuRuns: Map<string, string>, options: WebGpuProofOptions): Promise<StepCounts> {
  const log = options.log ?? console.log;
  let passed = 0;
  let failed = 0;
  rmSync(join(options.dir, "wasm-runs"), { recursive: true, force: true });
  const wasmRun = runOptions(options, "wasm-runs", { LAB_TF_BACKEND: "wasm" });
  for (const plan of plans) {
    const candidate = webgpuRuns.get(plan.notebook.name);
    if (!candidate) continue;
    const { parameters, git } = readJson<RunFolderManifest>(join(candidate, "manifest.json"));
    let reference = latestRun(options.referenceRuns, { notebook: plan.notebook.name, backend: "wasm", parameters, commit: git.commit });
    if (reference) log(`  ${plan.notebook.name}: the wasm run ./lab test landed, ${reference}`);
    else {
      log(`  ${plan.notebook.name}: no wasm run of commit ${git.commit?.slice(0, 12)} with these parameters in ${options.referenceRuns}; running it on wasm`);
      reference = await runVerified(plan, wasmRun, log);
      if (!reference) {
        failed++;
        continue;
      }
    }
    try {
      const comparison = compareRunFolders(reference, candidate, WEBGPU_VS_WASM, { reference: "wasm", candidate: "webgpu" });
      log(textTable(comparisonRows(comparison), 1));
      log(`  ${comparison.notebook}: ${comparison.agreed} figures agree, ${comparison.failed} do not, ${comparison.excluded} excluded (backend-dependent)`);
      passed += comparison.agreed;
      failed += comparison.failed;
    } catch (error) {
      log(`  ✗ ${describeError(error)}`);
      failed++;
    }
  }
  return { passed, failed };
}
