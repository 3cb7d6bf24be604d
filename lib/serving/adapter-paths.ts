import { existsSync, realpathSync } from "node:fs";
import { join, resolve, sep } from "node:path";
import { OpenLoraError } from "./errors.js";

/**
 * Where the server reads and writes adapter folders. Reads: a client names a path, and the
 * server loads it only when its real path (symlinks resolved) and the real paths of the two
 * files in it lie under one of the allowed roots, themselves resolved the same way, so a link
 * inside a root that points outside is refused. Writes: a merged adapter's folder name is its id
 * with every character outside [A-Za-z0-9._-] spelled as %XX, which is one-to-one (two ids never
 * share a folder), and a folder that already exists is never replaced.
 */

function realOrNull(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

const inside = (path: string, root: string) => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);

/** The allowed roots, resolved; roots that do not exist are dropped (nothing can be under them). */
export function realRoots(roots: readonly string[]): string[] {
  return roots.map((r) => realOrNull(resolve(r))).filter((r): r is string => r !== null);
}

/**
 * The real path of an adapter folder a client asked to load, refused unless it and its files
 * resolve under an allowed root (403 adapter/path-not-allowed) and exist (404 adapter/not-found).
 */
export function resolveAdapterDir(path: string, roots: readonly string[]): string {
  const real = realOrNull(resolve(path));
  const allowed = realRoots(roots);
  const refuse = (resolved: string) =>
    new OpenLoraError({
      code: "adapter/path-not-allowed",
      status: 403,
      fields: { path, resolved },
      message: `${path} resolves to ${resolved}, outside the folders this server loads adapters from`,
      hint: `put the adapter under one of: ${roots.join(", ")} (./lab serve --adapter-root DIR adds a root)`,
    });
  if (real === null) {
    // a missing path is reported as missing only inside the roots: outside, it is not the server's to describe
    const textual = resolve(path);
    if (!allowed.some((root) => inside(textual, root))) throw refuse(textual);
    throw new OpenLoraError({
      code: "adapter/not-found",
      status: 404,
      fields: { path },
      message: `${path} does not exist`,
      hint: "point at a PEFT adapter folder (adapter_config.json and adapter_model.safetensors)",
    });
  }
  if (!allowed.some((root) => inside(real, root))) throw refuse(real);
  for (const file of ["adapter_config.json", "adapter_model.safetensors"]) {
    const target = realOrNull(join(real, file));
    if (target !== null && !allowed.some((root) => inside(target, root))) throw refuse(target);
  }
  return real;
}

/** The folder of a merged adapter: the id, one-to-one, as a single path segment. */
export function mergedFolderName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
}

/** The merged adapter's folder under `mergeDir`, refused (409) when something is already there. */
export function freshMergedDir(mergeDir: string, id: string): string {
  const dir = join(mergeDir, mergedFolderName(id));
  if (existsSync(dir))
    throw new OpenLoraError({
      code: "adapter/folder-exists",
      status: 409,
      fields: { adapter: id, dir },
      message: `merged adapter "${id}" would be written to ${dir}, which already exists`,
      hint: "choose another id, or move that folder away if it is no longer served",
    });
  return dir;
}
