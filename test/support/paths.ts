import { existsSync } from "node:fs";
import { resolve } from "node:path";

export const REPO_ROOT = resolve(__dirname, "../..");
/** Shared reference material lives beside the repository, never copied into it. */
export const SHARED_DIR = resolve(REPO_ROOT, "../shared");
export const CRD_DIR = resolve(SHARED_DIR, "calico-crds");
export const HAVE_CRDS = existsSync(CRD_DIR);
