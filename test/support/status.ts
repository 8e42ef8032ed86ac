import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "./paths";

/** `calico-xdp status --netns NETNS ...args`, as a user runs the built command; its stdout. */
export function calicoXdpStatus(netns: string, ...args: string[]): string {
  return execFileSync(
    process.execPath,
    [join(REPO_ROOT, "dist", "provider", "cli.js"), "status", "--netns", netns, ...args],
    {
      encoding: "utf8",
    },
  );
}
