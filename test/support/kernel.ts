import { execFileSync } from "node:child_process";
import { skipReason } from "./requireAll";

function missingTool(tool: string): boolean {
  try {
    execFileSync("which", [tool], { stdio: "ignore" });
    return false;
  } catch {
    return true;
  }
}

/** Why kernel tests cannot run here (not root, tools missing), or undefined when they can. */
export function kernelSkip(tools: readonly string[] = ["clang", "bpftool", "ip"]): string | undefined {
  if (process.getuid?.() !== 0) return skipReason("kernel tests need root (BPF_PROG_RUN, bpffs, netns)");
  const missing = tools.filter(missingTool);
  return skipReason(
    missing.length ? `missing tools: ${missing.join(", ")} (run scripts/setup.sh)` : undefined,
  );
}
