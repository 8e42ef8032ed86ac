import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "./paths";
import { skipReason } from "./requireAll";

/** The engine's bin directory (built by scripts/engine.sh, quick when cached), or a skip reason. */
export function engine(): { bin?: string; skip?: string } {
  try {
    execFileSync("go", ["version"], { stdio: "ignore" });
  } catch {
    return { skip: skipReason("Go is missing, so the Pulumi engine cannot be built (scripts/engine.sh)") };
  }
  const bin = execFileSync("bash", [join(REPO_ROOT, "scripts", "engine.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 3_600_000,
  }).trim();
  return { bin };
}
