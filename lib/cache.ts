import { existsSync, lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { LabError } from "./errors.js";
import { fromRoot } from "./files.js";
import { runsRoot } from "./run-context.js";

/**
 * The caches: what the lab can always rebuild from seeds and data, kept so it is built once.
 * They live under one root, outside experiments/runs/ (which holds run folders only), and
 * `./lab clean` empties them.
 */
export const CACHES = {
  "base-models": "pretrained base model checkpoints (rebuilt from their seed)",
  "gradient-store": "per-example gradients of the attribution experiments (size-limited, least recently used evicted)",
  "attribution-lm": "the fine-tuned language-model adapter notebook 05 samples from (retrained from its spec)",
  factory: "outputs of ./lab factory runs whose spec names no output.dir (retrained from the spec)",
  steps: "the step cache: results of expensive experiment steps, keyed by their code and inputs (recomputed when asked again)",
} as const;

export type CacheName = keyof typeof CACHES;

/** The cache root: LAB_CACHE_DIR, else .lab/cache/ in the repository (gitignored). */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.LAB_CACHE_DIR ?? fromRoot(".lab", "cache");
}

/** The folder of one cache, with optional subfolders. */
export function cacheDir(name: CacheName, ...parts: string[]): string {
  return join(cacheRoot(), name, ...parts);
}

/** Where each cache lived before it moved out of experiments/runs/ (./lab clean frees those too). */
export function legacyCacheDir(name: CacheName): string {
  return join(runsRoot(), name);
}

/** Bytes under a path (files and folders, links not followed); 0 when it does not exist. */
export function pathBytes(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = lstatSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((sum, name) => sum + pathBytes(join(path, name)), 0);
}

/** One entry of a size-limited cache, for eviction. */
export interface CacheEntry {
  key: string;
  bytes: number;
  /** When the entry was last written or read (ms since the epoch). */
  lastUsed: number;
}

/**
 * The keys to evict so that the entries fit in `maxBytes`: least recently used first, never one
 * in `keep` (the entry being written). Ties on lastUsed evict the smaller key first, so the
 * choice does not depend on the order entries were listed in.
 */
export function leastRecentlyUsedEvictions(entries: readonly CacheEntry[], maxBytes: number, keep: ReadonlySet<string> = new Set()): string[] {
  let total = entries.reduce((sum, e) => sum + e.bytes, 0);
  const evict: string[] = [];
  const oldestFirst = [...entries].sort((a, b) => a.lastUsed - b.lastUsed || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const entry of oldestFirst) {
    if (total <= maxBytes) break;
    if (keep.has(entry.key)) continue;
    evict.push(entry.key);
    total -= entry.bytes;
  }
  return evict;
}

const UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** "1073741824", "512M", "2G", "1.5GiB" as bytes; refuses anything else, naming the setting. */
export function parseByteSize(text: string, setting: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(text);
  if (!match) {
    throw new LabError({
      code: "cache/bad-size",
      message: `${setting}=${JSON.stringify(text)} is not a size`,
      hint: `write ${setting} as bytes or with a unit: 1073741824, 512M, 2G`,
      fields: { setting, value: text },
    });
  }
  return Math.floor(Number(match[1]) * UNITS[match[2].toUpperCase()]);
}

/** Bytes as a person reads them: 1.4 MiB. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes,
    unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
