import { execFileSync } from "node:child_process";

/**
 * Runs `work` with a host-wide sysctl set to `value`, and always puts the old value back: on success,
 * on failure, and on ^C or SIGTERM.
 */
export async function withSysctl<T>(key: string, value: number, work: () => Promise<T>): Promise<T> {
  const saved = execFileSync("sysctl", ["-n", key], { encoding: "utf8" }).trim();
  const restore = () => execFileSync("sysctl", ["-q", "-w", `${key}=${saved}`]);
  const onSignal = () => {
    restore();
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  execFileSync("sysctl", ["-q", "-w", `${key}=${value}`]);
  try {
    return await work();
  } finally {
    restore();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
