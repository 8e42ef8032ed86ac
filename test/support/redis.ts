import { execFile, spawn } from "node:child_process";
import { redisServerArgv } from "../../scripts/redis";

/** redis-server in a network namespace, listening on every address; stop() kills it. */
export async function startRedis(netns: string): Promise<{ stop: () => void }> {
  const child = spawn("ip", redisServerArgv(netns), { stdio: ["ignore", "pipe", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (/Ready to accept connections/.test(out)) resolve();
    });
    child.on("exit", (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
  });
  return { stop: () => child.kill("SIGTERM") };
}

/** `redis-cli PING` from a namespace: "PONG", or "timeout" when nothing answers within 3 s. */
export function redisPing(netns: string, host: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      "timeout",
      ["3", "ip", "netns", "exec", netns, "redis-cli", "-h", host, "PING"],
      (error, stdout) => {
        resolve(error ? "timeout" : stdout.trim());
      },
    );
  });
}
