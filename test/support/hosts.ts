import { type ChildProcess, execFile, spawn } from "node:child_process";
import { join } from "node:path";

const TRAFFIC = join(__dirname, "traffic.js");

/** Runs traffic.js in a network namespace (or, without one, on this machine) until it exits; resolves with its trimmed stdout. */
export function inNetns(netns: string | undefined, ...args: string[]): Promise<string> {
  const command = [process.execPath, TRAFFIC, ...args];
  const [file, ...argv] = netns === undefined ? command : ["ip", "netns", "exec", netns, ...command];
  return new Promise((resolve, reject) => {
    execFile(file!, argv, { timeout: 120_000 }, (error, stdout, stderr) => {
      if (error)
        reject(new Error(`${args.join(" ")} in ${netns ?? "this machine"}: ${stderr || error.message}`));
      else resolve(stdout.trim());
    });
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
