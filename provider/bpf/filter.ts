import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  addressMapSizes,
  type CompiledPolicy,
  compileXdpPolicy,
  encodeMaps,
  mapsDigest,
} from "../../sdk/xdp/compile";
import { MAX_RULES, REASONS, type Reason } from "../../sdk/xdp/layout";
import type { XdpPolicyInput } from "../../sdk/xdp/policy";
import { BPFFS, type RunResult, readCounters, requireBpffs, runProgram } from "./bpftool";
import { type BuiltObject, buildLoader, buildObject } from "./build";
import { runBuffer } from "./exec";
import { encodeImage, type LoaderHost, loader } from "./loader";

/** The loader on this machine. */
export async function localLoader(): Promise<LoaderHost> {
  return { loader: (await buildLoader()).path, hostBuffer: runBuffer };
}

export const XDP_ACTIONS = ["XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT"] as const;

export interface Counters {
  readonly rules: readonly { packets: bigint; bytes: bigint }[];
  readonly reasons: Readonly<Record<Reason, { packets: bigint; bytes: bigint }>>;
}

export interface ProgramVerdict {
  readonly verdict: (typeof XDP_ACTIONS)[number];
  readonly reason: Reason;
  readonly rule: number | null;
}

/**
 * The policy filter loaded (not attached) with a compiled policy, pinned under a private bpffs
 * directory: for BPF_PROG_RUN verdicts, tests and benchmarks. `close()` unpins everything.
 */
export class LoadedFilter {
  private constructor(
    readonly dir: string,
    readonly object: BuiltObject,
    readonly compiled: CompiledPolicy,
    private readonly on: LoaderHost,
  ) {}

  static async load(policy: XdpPolicyInput, object?: BuiltObject): Promise<LoadedFilter> {
    const { ingress, ...context } = policy;
    const compiled = compileXdpPolicy(ingress, context);
    const built = object ?? (await buildObject());
    requireBpffs("this machine");
    const dir = join(BPFFS, `calico-xdp-run-${process.pid}-${randomBytes(4).toString("hex")}`);
    mkdirSync(dir);
    const on = await localLoader();
    try {
      const maps = encodeMaps(compiled);
      await loader.load(on, built.path, dir, "xdp", addressMapSizes(maps));
      // A fresh program's active generation is 0: writing that one is enough to run it.
      await loader.sync(on, dir, ["w0"], encodeImage(maps, mapsDigest(maps)));
    } catch (error) {
      await unpin(on, dir);
      throw error;
    }
    return new LoadedFilter(dir, built, compiled, on);
  }

  get programPin(): string {
    return join(this.dir, "prog");
  }

  run(frame: Buffer, repeat = 1): Promise<RunResult> {
    return runProgram(this.programPin, frame, repeat);
  }

  async counters(): Promise<Counters> {
    const rules = await readCounters(join(this.dir, "rule_stats"));
    const reasons = await readCounters(join(this.dir, "verdict_stats"));
    return {
      rules: Array.from({ length: MAX_RULES }, (_, i) => rules[i] ?? { packets: 0n, bytes: 0n }),
      reasons: Object.fromEntries(
        REASONS.map((r, i) => [r, reasons[i] ?? { packets: 0n, bytes: 0n }]),
      ) as Counters["reasons"],
    };
  }

  /** Runs one frame and reads, from the counters it moved, why it got its verdict and which rule decided. */
  async verdict(frame: Buffer): Promise<ProgramVerdict> {
    const before = await this.counters();
    const { action } = await this.run(frame);
    const after = await this.counters();
    const reason = REASONS.find((r) => after.reasons[r].packets > before.reasons[r].packets);
    if (reason === undefined) throw new Error("the program ran but counted no verdict");
    const deciding = ["allow", "deny", "pass", "shadow-deny"].includes(reason);
    const rule = deciding
      ? after.rules.findIndex(
          (c, i) => c.packets > before.rules[i]!.packets && !(this.compiled.config.log & (1n << BigInt(i))),
        )
      : -1;
    return { verdict: XDP_ACTIONS[action] ?? "XDP_ABORTED", reason, rule: rule >= 0 ? rule : null };
  }

  close(): Promise<void> {
    return unpin(this.on, this.dir);
  }
}

/** Unpins a loaded filter and drops what the loader remembers of its maps. */
async function unpin(on: LoaderHost, dir: string): Promise<void> {
  await loader.forget(on, dir);
  rmSync(dir, { recursive: true, force: true });
}
