import { execFile } from "node:child_process";

export class CommandError extends Error {
  constructor(
    readonly command: readonly string[],
    readonly stderr: string,
    readonly code: number | string | undefined,
  ) {
    super(
      `${command.join(" ")} failed${code === undefined ? "" : ` (exit ${code})`}: ${stderr.trim() || "no output"}`,
    );
    this.name = "CommandError";
  }
}

/** Runs a program with an argument vector (never a shell string) and returns its stdout. */
export function run(
  file: string,
  args: readonly string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { maxBuffer: 512 * 1024 * 1024, timeout: options.timeoutMs ?? 120_000, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error) {
          const code = (error as NodeJS.ErrnoException).code ?? undefined;
          reject(new CommandError([file, ...args], stderr || error.message, code));
        } else {
          resolve(stdout);
        }
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}
