import { type ChildProcess, execFile, spawn } from "node:child_process";
import { join } from "node:path";

const TRAFFIC = join(__dirname, "traffic.js");

/** Runs traffic.js in a network namespace until it exits; resolves with its trimmed stdout. */
export function inNetns(netns: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "ip",
      ["netns", "exec", netns, process.execPath, TRAFFIC, ...args],
      { timeout: 120_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${args.join(" ")} in ${netns}: ${stderr || error.message}`));
        else resolve(stdout.trim());
      },
    );
  });
}

/** A long-running traffic.js process; resolves once it printed its first line (e.g. "listening"). */
export function background(
  netns: string,
  ...args: string[]
): Promise<{ child: ChildProcess; output: () => string; stop: () => Promise<string> }> {
  return new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", netns, process.execPath, TRAFFIC, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let started = false;
    const exited = new Promise<string>((done) => child.on("exit", () => done(out.trim())));
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (!started) {
        started = true;
        resolve({
          child,
          output: () => out,
          stop: () => {
            child.kill("SIGTERM");
            return exited;
          },
        });
      }
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      if (!started) reject(new Error(`${args.join(" ")} exited with ${code} before starting`));
    });
  });
}
