import { spawn } from "node:child_process";

/**
 * `ip netns exec NS redis-server ...` for a throwaway Redis on a test or demo host: every address, no
 * protected mode (clients come from another namespace), no persistence.
 */
export function redisServerArgv(netns: string, ...extra: string[]): string[] {
  return [
    "netns",
    "exec",
    netns,
    "redis-server",
    "--port",
    "6379",
    "--bind",
    "0.0.0.0",
    "--protected-mode",
    "no",
    "--save",
    "",
    "--appendonly",
    "no",
    ...extra,
  ];
}

/** redis-server in a network namespace, listening on every address; resolves once it accepts connections. */
export async function startRedis(
  netns: string,
  ...extra: string[]
): Promise<{ pid: number; stop: () => void }> {
  const child = spawn("ip", redisServerArgv(netns, ...extra), { stdio: ["ignore", "pipe", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (/Ready to accept connections/.test(out)) resolve();
    });
    child.on("exit", (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
  });
  return { pid: child.pid!, stop: () => child.kill("SIGTERM") };
}
