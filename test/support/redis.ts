import { execFile } from "node:child_process";

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
