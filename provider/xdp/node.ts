import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { type MapEntry, mapsDigest } from "../../sdk/xdp/compile";
import type { NodeAttachment, XdpNode } from "../../sdk/xdp/programArgs";
import { BPFFS, bpftoolBatch, loadPinned, mapUpdateLines, pinnedProgramId, writeMaps } from "../bpf/bpftool";
import type { NodeTransport } from "./transport";

/** Where one resource keeps its pins on a node: <BPFFS>/calico-xdp/<resource id>/<node name>/<version>. */
export const PIN_ROOT = join(BPFFS, "calico-xdp");
export const nodePinDir = (id: string, node: string) => join(PIN_ROOT, id, node);

/** The program name the kernel keeps (15 characters of `calico_xdp_policy`). */
const OUR_PROGRAM_NAME = "calico_xdp_poli";

export interface AttachedProgram {
  readonly id: number;
  readonly name: string;
  readonly tag: string;
  readonly mode: "native" | "generic" | "offload";
}

export type Owner =
  | { readonly kind: "none" }
  | { readonly kind: "ours"; readonly dir: string; readonly program: AttachedProgram }
  | { readonly kind: "foreign"; readonly program: AttachedProgram; readonly who: string };

/** `ip -j link show`'s XDP attach mode numbers. */
export const XDP_MODES: Readonly<Record<number, AttachedProgram["mode"]>> = {
  1: "native",
  2: "generic",
  3: "offload",
};

/** Felix's programs: the iptables dataplane's `prefilter` and the eBPF dataplane's preamble. */
export const isCalicoProgram = (name: string) => name === "prefilter" || name.startsWith("cali_xdp_preamb");

/** The XDP program attached to `iface` now, from `ip -j link show`. */
export async function attachedProgram(t: NodeTransport, iface: string): Promise<AttachedProgram | undefined> {
  const [link] = JSON.parse(await t.net("ip", ["-j", "link", "show", "dev", iface])) as {
    xdp?: { mode: number; prog?: { id: number; name: string; tag: string } };
  }[];
  const prog = link?.xdp?.prog;
  if (!prog) return undefined;
  return { id: prog.id, name: prog.name, tag: prog.tag, mode: XDP_MODES[link!.xdp!.mode] ?? "native" };
}

/** Program versions this resource pinned on the node: pin directory -> program id. */
async function ourPins(t: NodeTransport, dir: string): Promise<Map<string, number>> {
  const pins = new Map<string, number>();
  let versions: string[];
  try {
    versions = (await t.host("ls", ["-1", dir])).split("\n").filter(Boolean);
  } catch {
    return pins;
  }
  for (const version of versions) {
    try {
      pins.set(join(dir, version), await pinnedProgramId(join(dir, version), t));
    } catch {
      // A version directory without a loadable pin is a leftover; converge() removes it.
    }
  }
  return pins;
}

function describeForeign(program: AttachedProgram): string {
  if (program.name === "prefilter") return "Calico Felix's XDP prefilter (iptables dataplane)";
  if (program.name.startsWith("cali_xdp_preamb")) return "Calico's eBPF dataplane XDP preamble";
  if (program.name === OUR_PROGRAM_NAME) return "another calico-xdp resource's filter";
  return "an XDP program this resource did not attach";
}

export async function ownerOf(t: NodeTransport, iface: string, dir: string): Promise<Owner> {
  const program = await attachedProgram(t, iface);
  if (!program) return { kind: "none" };
  for (const [pinDir, id] of await ourPins(t, dir)) {
    if (id === program.id) return { kind: "ours", dir: pinDir, program };
  }
  return { kind: "foreign", program, who: describeForeign(program) };
}

function foreignMessage(node: XdpNode, iface: string, owner: Extract<Owner, { kind: "foreign" }>): string {
  const { program } = owner;
  const fix = isCalicoProgram(program.name)
    ? `set xdpEnabled: false in the FelixConfiguration for node ${node.name} (FelixConfiguration "node.${node.name}"), or takeOver: true to replace it`
    : "detach it, or set takeOver: true to replace it";
  return `${iface} on node ${node.name} runs ${owner.who} (id ${program.id}, name "${program.name}", ${program.mode} mode): refusing to replace it; ${fix}`;
}

export interface Desired {
  readonly id: string;
  readonly iface: string;
  readonly mode: "native" | "generic" | "auto";
  readonly takeOver: boolean;
  readonly objectPath: string;
  readonly objectSha256: string;
  readonly maps: Readonly<Record<string, readonly MapEntry[]>>;
  readonly mapsSha256: string;
  readonly ruleCount: number;
}

/** What was applied before on this node, for in-place map updates. */
export interface Previous {
  readonly attachment: NodeAttachment;
  readonly maps: Readonly<Record<string, readonly MapEntry[]>>;
}

async function attach(
  t: NodeTransport,
  iface: string,
  programId: number,
  mode: Desired["mode"],
  replace: AttachedProgram | undefined,
) {
  const overwrite = replace ? ["overwrite"] : [];
  // Replacing keeps the attached program's mode: the kernel swaps atomically only within one mode.
  const modes = replace
    ? [replace.mode === "generic" ? "xdpgeneric" : "xdpdrv"]
    : mode === "native"
      ? ["xdpdrv"]
      : mode === "generic"
        ? ["xdpgeneric"]
        : ["xdpdrv", "xdpgeneric"];
  let lastError: unknown;
  for (const m of modes) {
    try {
      await t.net("bpftool", ["net", "attach", m, "id", String(programId), "dev", iface, ...overwrite]);
      return;
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

/**
 * Brings one node to the desired program: maps rewritten in place when our program of the same object
 * is attached and what it holds is known; otherwise a fresh load, full maps, then an atomic swap (or a
 * first attach that fails if someone attached in between). Never replaces a foreign program unless
 * takeOver is set.
 */
export async function converge(
  t: NodeTransport,
  node: XdpNode,
  desired: Desired,
  previous?: Previous,
): Promise<NodeAttachment> {
  await t.prepare();
  const base = nodePinDir(desired.id, node.name);
  const owner = await ownerOf(t, desired.iface, base);
  if (owner.kind === "foreign" && !desired.takeOver)
    throw new Error(foreignMessage(node, desired.iface, owner));

  const prev = previous?.attachment;
  const inPlace =
    owner.kind === "ours" &&
    prev?.status === "attached" &&
    prev.drift === undefined &&
    prev.pinDir === owner.dir &&
    prev.objectSha256 === desired.objectSha256;
  if (inPlace) {
    await bpftoolBatch(mapUpdateLines(owner.dir, desired.maps, previous!.maps), t);
    // Still the program attached then: only its maps changed.
    return { ...attachment(node, owner.program, desired, owner.dir), attachedAt: prev.attachedAt };
  }

  const dir = join(base, `${desired.objectSha256.slice(0, 12)}-${randomBytes(3).toString("hex")}`);
  await t.host("mkdir", ["-p", dir]);
  let loadedId: number;
  try {
    await loadPinned(desired.objectPath, dir, t);
    // The maps are complete before the program is attached: a swap never exposes an empty policy.
    await writeMaps(dir, desired.maps, t);
    loadedId = await pinnedProgramId(dir, t);
    await attach(t, desired.iface, loadedId, desired.mode, owner.kind === "none" ? undefined : owner.program);
  } catch (error) {
    await t.host("rm", ["-rf", dir]).catch(() => undefined);
    throw error;
  }
  const now = await attachedProgram(t, desired.iface);
  if (now?.id !== loadedId) {
    throw new Error(
      `attached on ${desired.iface} but the interface now shows ${now ? `program id ${now.id} "${now.name}"` : "no program"}`,
    );
  }
  // Older versions of ours are no longer attached: unpin them.
  for (const old of (await t.host("ls", ["-1", base])).split("\n").filter(Boolean)) {
    if (join(base, old) !== dir) await t.host("rm", ["-rf", join(base, old)]);
  }
  return attachment(node, now, desired, dir);
}

function attachment(node: XdpNode, program: AttachedProgram, desired: Desired, dir: string): NodeAttachment {
  return {
    node: node.name,
    status: "attached",
    mode: program.mode === "generic" ? "generic" : "native",
    programId: program.id,
    programTag: program.tag,
    objectSha256: desired.objectSha256,
    mapsSha256: desired.mapsSha256,
    ruleCount: desired.ruleCount,
    attachedAt: new Date().toISOString(),
    pinDir: dir,
  };
}

/** Detaches our program (only ours) and removes this resource's pins on the node. Idempotent. */
export async function remove(
  t: NodeTransport,
  node: XdpNode,
  id: string,
  iface: string,
): Promise<string | undefined> {
  if (t.unavailable()) return undefined; // the namespace is gone, and with it the attachment
  await t.prepare();
  const base = nodePinDir(id, node.name);
  let note: string | undefined;
  try {
    const owner = await ownerOf(t, iface, base);
    if (owner.kind === "ours") {
      await t.net("bpftool", [
        "net",
        "detach",
        owner.program.mode === "generic" ? "xdpgeneric" : "xdpdrv",
        "dev",
        iface,
      ]);
    } else if (owner.kind === "foreign") {
      note = `left ${owner.who} (id ${owner.program.id}) attached on ${iface}: it is not ours`;
    }
  } catch (error) {
    if (!/does not exist|Cannot find device/i.test((error as Error).message)) throw error;
  }
  await t.host("rm", ["-rf", base]);
  // The resource's directory goes with its last node there (nodes on one host share it): each node
  // removes its own first, so the last rmdir in time finds it empty.
  await t.host("rmdir", [join(PIN_ROOT, id)]).catch(() => undefined);
  return note;
}

/** Refresh: what is on the node now compared with what was applied. */
export async function probe(
  t: NodeTransport,
  node: XdpNode,
  id: string,
  iface: string,
  applied: NodeAttachment | undefined,
): Promise<NodeAttachment> {
  const unavailable = t.unavailable();
  if (unavailable) return { node: node.name, status: "detached", drift: unavailable };
  await t.prepare();
  const owner = await ownerOf(t, iface, nodePinDir(id, node.name));
  if (owner.kind === "none")
    return { ...applied, node: node.name, status: "detached", drift: `no XDP program on ${iface}` };
  if (owner.kind === "foreign") {
    return {
      ...applied,
      node: node.name,
      status: "replaced",
      drift: `${iface} has ${owner.who} (id ${owner.program.id}, "${owner.program.name}") instead of ours`,
    };
  }
  const mapsSha256 = await dumpMapsDigest(t, owner.dir);
  if (applied?.mapsSha256 !== undefined && mapsSha256 !== applied.mapsSha256) {
    return {
      ...applied,
      node: node.name,
      status: "attached",
      programId: owner.program.id,
      mapsSha256,
      drift: "the program's maps were changed outside Pulumi",
    };
  }
  return { ...applied, node: node.name, status: "attached", programId: owner.program.id, pinDir: owner.dir };
}

const POLICY_MAPS = [
  "config",
  "src_v4_exact",
  "src_v4_lpm",
  "src_v6_exact",
  "src_v6_lpm",
  "dst_v4_exact",
  "dst_v4_lpm",
  "dst_v6_exact",
  "dst_v6_lpm",
  "proto_match",
  "sport_match",
  "dport_match",
  "icmp_match",
  "failsafe_ports",
];

/** The digest of the policy maps as they are on the node, comparable with `mapsDigest`. */
async function dumpMapsDigest(t: NodeTransport, dir: string): Promise<string> {
  const maps: Record<string, MapEntry[]> = {};
  for (const name of POLICY_MAPS) {
    let dump: { key: string[]; value: string[] }[];
    try {
      dump = JSON.parse(await t.host("bpftool", ["map", "dump", "pinned", join(dir, name), "-j"]));
    } catch {
      continue; // a custom program has its own maps
    }
    maps[name] = dump.map((e) => ({
      key: Buffer.from(e.key.map((h) => Number.parseInt(h, 16))),
      value: Buffer.from(e.value.map((h) => Number.parseInt(h, 16))),
    }));
  }
  return mapsDigest(maps);
}
