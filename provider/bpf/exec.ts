import { spawn } from "node:child_process";

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

/** What a command may print before it is stopped: a runaway node must not exhaust our memory. */
export const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024;

export interface RunOptions {
  /** Written to the command's stdin. */
  readonly input?: string | Buffer;
  readonly timeoutMs?: number;
  /** Bytes of stdout (and of stderr) kept before the command is killed. @default - 16 MiB */
  readonly maxOutput?: number;
}

/** Collects a stream up to `limit` bytes; `over()` says whether it tried to exceed it. */
export class BoundedSink {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private exceeded = false;
  constructor(private readonly limit: number) {}
  push(chunk: Buffer): boolean {
    if (this.size + chunk.length > this.limit) {
      this.exceeded = true;
      return false;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    return true;
  }
  over(): boolean {
    return this.exceeded;
  }
  buffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Runs a program with an argument vector (never a shell string) and returns its stdout bytes. */
export function runBuffer(file: string, args: readonly string[], options: RunOptions = {}): Promise<Buffer> {
  const limit = options.maxOutput ?? DEFAULT_MAX_OUTPUT;
  return new Promise((resolve, reject) => {
    const command = [file, ...args];
    const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"] });
    const stdout = new BoundedSink(limit);
    const stderr = new BoundedSink(limit);
    let failure: CommandError | undefined;
    const stop = (why: string, code: string) => {
      failure ??= new CommandError(command, why, code);
      child.kill("SIGKILL");
    };
    const timer = setTimeout(
      () => stop(`timed out after ${(options.timeoutMs ?? 120_000) / 1000} s`, "ETIMEDOUT"),
      options.timeoutMs ?? 120_000,
    );
    child.stdout.on(
      "data",
      (c: Buffer) => stdout.push(c) || stop(`printed more than ${limit} bytes`, "EOUTPUT"),
    );
    child.stderr.on(
      "data",
      (c: Buffer) => stderr.push(c) || stop(`printed more than ${limit} bytes`, "EOUTPUT"),
    );
    child.stdin.on("error", () => undefined); // a command that exits without reading its input
    child.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new CommandError(command, error.message, error.code));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (failure) reject(failure);
      else if (code === 0) resolve(stdout.buffer());
      else reject(new CommandError(command, stderr.buffer().toString("utf8"), code ?? signal ?? undefined));
    });
    child.stdin.end(options.input);
  });
}

/** Runs a program with an argument vector (never a shell string) and returns its stdout as text. */
export async function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  return (await runBuffer(file, args, options)).toString("utf8");
}
