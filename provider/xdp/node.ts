/**
 * One node's side of an XdpProgram: what this resource pinned there, whose program an interface
 * runs, and the steps that bring the node to the desired program and maps. Every step is idempotent
 * and recognises what an interrupted run left, so a crash at any point is repaired by the next run.
 *
 * Pins of resource <id> on node <node>, under the host's bpffs:
 *   calico-xdp/<id>/<node>/v-<object sha256, 16 hex>-<map sizes, 8 hex>/{prog, maps}   a program version
 *   calico-xdp/<id>/<node>/link-<interface>                          the bpf_link attaching it
 * The id is derived from the resource's URN, so a create killed before Pulumi recorded it is found
 * again by the retried create.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { mapsDigest, type PackedMaps } from "../../sdk/xdp/compile";
import { POLICY_MAPS } from "../../sdk/xdp/layout";
import type { NodeAttachment, XdpNode } from "../../sdk/xdp/programArgs";
import { BPFFS, pinnedProgramId } from "../bpf/bpftool";
import {
  type LinkState,
  LOADER_BUSY,
  LOADER_STALE,
  type LoaderHost,
  linkPinOf,
  loader,
  loaderExit,
  syncGenerations,
} from "../bpf/loader";
import { faultPoint } from "./fault";
import { loaderOn, type NodeTransport } from "./transport";

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

/** `ip -j link show`'s XDP attach mode numbers. */
export const XDP_MODES: Readonly<Record<number, AttachedProgram["mode"]>> = {
  1: "native",
  2: "generic",
  3: "offload",
};

/** Felix's programs: the iptables dataplane's `prefilter` and the eBPF dataplane's preamble. */
export const isCalicoProgram = (name: string) => name === "prefilter" || name.startsWith("cali_xdp_preamb");

export interface InterfaceState {
  readonly ifindex: number;
  readonly program?: AttachedProgram;
}

/** The interface's index and the XDP program it runs now, from `ip -j link show`. */
export async function interfaceState(t: NodeTransport, iface: string): Promise<InterfaceState> {
  const [link] = JSON.parse(await t.net("ip", ["-j", "link", "show", "dev", iface])) as {
    ifindex: number;
    xdp?: { mode: number; prog?: { id: number; name: string; tag: string } };
  }[];
  const prog = link?.xdp?.prog;
  return {
    ifindex: link?.ifindex ?? 0,
    ...(prog
      ? {
          program: {
            id: prog.id,
            name: prog.name,
            tag: prog.tag,
            mode: XDP_MODES[link!.xdp!.mode] ?? "native",
          },
        }
      : {}),
  };
}

/** The program attached to an interface now, if any. */
export async function attachedProgram(t: NodeTransport, iface: string): Promise<AttachedProgram | undefined> {
  return (await interfaceState(t, iface)).program;
}

interface VersionPin {
  readonly dir: string;
  /** undefined: the directory has no loadable program pin (a load was interrupted). */
  readonly progId?: number;
}

interface LinkPin {
  readonly iface: string;
  readonly pin: string;
  /** undefined: the pin cannot be read as a link. */
  readonly state?: LinkState;
}

export interface NodePins {
  readonly versions: readonly VersionPin[];
  readonly links: readonly LinkPin[];
}

const isMissing = (error: unknown) => /No such file or directory|does not exist/i.test(String(error));

/** What this resource has pinned on the node. */
export async function scanPins(t: NodeTransport, on: LoaderHost, base: string): Promise<NodePins> {
  let entries: string[];
  try {
    entries = (await t.host("ls", ["-1", base])).split("\n").filter(Boolean);
  } catch (error) {
    if (isMissing(error)) return { versions: [], links: [] };
    throw error;
  }
  const versions: VersionPin[] = [];
  const links: LinkPin[] = [];
  for (const entry of entries) {
    const path = join(base, entry);
    if (entry.startsWith("v-")) {
      versions.push({ dir: path, progId: await pinnedProgramId(path, t).catch(() => undefined) });
    } else if (entry.startsWith("link-")) {
      const state = await loader.link(on, path).catch(() => undefined);
      links.push({ iface: entry.slice("link-".length), pin: path, ...(state ? { state } : {}) });
    }
  }
  return { versions, links };
}

export type Owner =
  | { readonly kind: "none" }
  | {
      readonly kind: "ours";
      readonly link: LinkPin & { state: LinkState };
      readonly program: AttachedProgram;
    }
  /** One of our program versions, attached without a link (by an earlier calico-xdp release). */
  | { readonly kind: "ours-netlink"; readonly program: AttachedProgram }
  | { readonly kind: "foreign"; readonly program: AttachedProgram; readonly who: string };

export function ownerOf(pins: NodePins, iface: string, state: InterfaceState): Owner {
  const program = state.program;
  if (!program) return { kind: "none" };
  const link = pins.links.find(
    (l) => l.iface === iface && l.state?.ifindex === state.ifindex && l.state.progId === program.id,
  );
  if (link) return { kind: "ours", link: link as LinkPin & { state: LinkState }, program };
  if (pins.versions.some((v) => v.progId === program.id)) return { kind: "ours-netlink", program };
  return { kind: "foreign", program, who: describeForeign(program) };
}

function describeForeign(program: AttachedProgram): string {
  if (program.name === "prefilter") return "Calico Felix's XDP prefilter (iptables dataplane)";
  if (program.name.startsWith("cali_xdp_preamb")) return "Calico's eBPF dataplane XDP preamble";
  if (program.name === OUR_PROGRAM_NAME) return "another calico-xdp resource's filter";
  return "an XDP program this resource did not attach";
}

function foreignMessage(node: XdpNode, iface: string, program: AttachedProgram, who: string): string {
  const fix = isCalicoProgram(program.name)
    ? `set xdpEnabled: false in the FelixConfiguration for node ${node.name} (FelixConfiguration "node.${node.name}"), or takeOver: true to replace it`
    : "detach it, or set takeOver: true to replace it";
  return `${iface} on node ${node.name} runs ${who} (id ${program.id}, name "${program.name}", ${program.mode} mode): refusing to replace it; ${fix}`;
}

export interface Desired {
  readonly id: string;
  readonly iface: string;
  readonly mode: "native" | "generic" | "auto";
  readonly takeOver: boolean;
  readonly objectPath: string;
  readonly objectSha256: string;
  /** The loader built here, copied to the node when it is remote. */
  readonly loaderPath: string;
  /** false for a custom `source`, whose maps are its own. */
  readonly policy: boolean;
  /** The ELF section of the program to load. */
  readonly section: string;
  /** max_entries of the maps to resize (the policy's address maps). */
  readonly mapSizes: Readonly<Record<string, number>>;
  readonly maps: PackedMaps;
  readonly mapsSha256: string;
  readonly ruleCount: number;
}

/** What was applied before on this node. */
export interface Previous {
  readonly attachment?: NodeAttachment;
}

/** Unpins a program version and drops what the node remembers of its maps. */
async function removeVersion(t: NodeTransport, on: LoaderHost, dir: string): Promise<void> {
  await loader.forget(on, dir);
  await t.host("rm", ["-rf", dir]);
}

/**
 * The program version to run: a whole one of the desired object whose maps are large enough (the one
 * attached now first, so a change that fits rewrites maps only), else one loaded afresh with maps sized
 * for the policy, whose directory is named by object and sizes so an interrupted load is found again.
 */
async function ensureVersion(
  t: NodeTransport,
  on: LoaderHost,
  pins: NodePins,
  base: string,
  desired: Desired,
  attachedProgId: number | undefined,
): Promise<{ dir: string; progId: number }> {
  const prefix = join(base, `v-${desired.objectSha256.slice(0, 16)}-`);
  const candidates = pins.versions
    .filter((v) => v.dir.startsWith(prefix) && v.progId !== undefined)
    .sort((a, b) => Number(b.progId === attachedProgId) - Number(a.progId === attachedProgId));
  for (const version of candidates) {
    if (!desired.policy) return { dir: version.dir, progId: version.progId! };
    const { maxEntries } = await loader.generations(on, version.dir);
    if (Object.entries(desired.mapSizes).every(([name, size]) => (maxEntries[name] ?? 0) >= size))
      return { dir: version.dir, progId: version.progId! };
  }
  const sizes = createHash("sha256").update(JSON.stringify(desired.mapSizes)).digest("hex").slice(0, 8);
  const dir = `${prefix}${sizes}`;
  await removeVersion(t, on, dir);
  await t.host("mkdir", ["-p", dir]);
  const { progId } = await loader.load(
    on,
    await t.upload(desired.objectPath),
    dir,
    desired.section,
    desired.mapSizes,
  );
  faultPoint("after-load");
  return { dir, progId };
}

/**
 * Brings one node to the desired program: the program version loaded and pinned, both map
 * generations holding the policy (switched atomically), and a pinned bpf_link on the interface running
 * it. An attached program of ours is swapped with an atomic link update; a foreign one is never
 * touched unless takeOver is set. Links on other interfaces and other versions are removed last.
 */
export async function converge(
  t: NodeTransport,
  node: XdpNode,
  desired: Desired,
  previous?: Previous,
): Promise<NodeAttachment> {
  const gone = t.unavailable();
  if (gone) throw new Error(gone);
  await t.prepare();
  const on = await loaderOn(t, desired.loaderPath);
  const base = nodePinDir(desired.id, node.name);
  const pins = await scanPins(t, on, base);
  const iface = await interfaceState(t, desired.iface);
  const owner = ownerOf(pins, desired.iface, iface);
  if (owner.kind === "foreign" && !desired.takeOver)
    throw new Error(foreignMessage(node, desired.iface, owner.program, owner.who));

  const attachedProgId = owner.kind === "ours" ? owner.program.id : undefined;
  const { dir, progId } = await ensureVersion(t, on, pins, base, desired, attachedProgId);
  // Maps that someone changed behind the commit records' back (drift) are read and fixed, not trusted.
  if (desired.policy)
    await syncGenerations(
      on,
      dir,
      desired.maps,
      desired.mapsSha256,
      previous?.attachment?.drift !== undefined,
    );

  const link = await attachLink(t, on, node, desired, owner, join(dir, "prog"), progId);
  faultPoint("after-pin");
  // What this resource no longer uses here: links on other interfaces, then other program versions.
  for (const other of pins.links) if (other.iface !== desired.iface) await loader.detach(on, other.pin);
  for (const other of pins.versions) if (other.dir !== dir) await removeVersion(t, on, other.dir);

  const now = await interfaceState(t, desired.iface);
  if (now.program?.id !== progId) {
    throw new Error(
      `attached on ${desired.iface} but the interface now shows ${now.program ? `program id ${now.program.id} "${now.program.name}"` : "no program"}`,
    );
  }
  const prev = previous?.attachment;
  const unchanged = prev?.linkId === link.linkId && prev?.programId === now.program.id;
  return {
    node: node.name,
    status: "attached",
    mode: now.program.mode === "generic" ? "generic" : "native",
    programId: now.program.id,
    programTag: now.program.tag,
    linkId: link.linkId,
    objectSha256: desired.objectSha256,
    mapsSha256: desired.mapsSha256,
    ruleCount: desired.ruleCount,
    // A maps-only update keeps the time: the program was not reattached.
    attachedAt: unchanged && prev?.attachedAt ? prev.attachedAt : new Date().toISOString(),
    pinDir: dir,
  };
}

/** The pinned link on the desired interface, running `progPin` (atomically swapped when it ran another). */
async function attachLink(
  t: NodeTransport,
  on: LoaderHost,
  node: XdpNode,
  desired: Desired,
  owner: Owner,
  progPin: string,
  progId: number,
): Promise<LinkState> {
  const linkPin = linkPinOf(nodePinDir(desired.id, node.name), desired.iface);
  const modeFits = (mode: AttachedProgram["mode"]) => desired.mode === "auto" || desired.mode === mode;
  if (owner.kind === "ours" && modeFits(owner.program.mode)) {
    if (owner.link.state.progId === progId) return owner.link.state;
    try {
      return await loader.update(on, linkPin, progPin, owner.link.state.progId);
    } catch (error) {
      if (loaderExit(error) === LOADER_STALE)
        throw new Error(
          `the program on ${desired.iface} of node ${node.name} changed while it was being replaced; run up again`,
        );
      throw error;
    }
  }
  // A stale link pin (its interface was recreated, or another mode is wanted) goes first.
  await loader.detach(on, linkPin);
  if (owner.kind === "foreign" || owner.kind === "ours-netlink")
    await loader.clear(on, { netns: t.netns }, desired.iface);
  try {
    return await loader.attach(on, { netns: t.netns }, desired.iface, progPin, linkPin, desired.mode);
  } catch (error) {
    if (loaderExit(error) !== LOADER_BUSY) throw error;
    // Someone attached in between (another deployment racing this one): say who.
    const now = await interfaceState(t, desired.iface);
    const rescan = await scanPins(t, on, nodePinDir(desired.id, node.name));
    const found = ownerOf(rescan, desired.iface, now);
    if (found.kind === "foreign")
      throw new Error(foreignMessage(node, desired.iface, found.program, found.who));
    throw error;
  }
}

/**
 * Detaches this resource's programs on the node (only ours) and removes its pins; idempotent. When the
 * node's namespace is gone, its links are defunct and only the pins are removed. Throws, naming what
 * it found, if one of our programs is still attached afterwards.
 */
export async function remove(
  t: NodeTransport,
  node: XdpNode,
  id: string,
  iface: string,
  loaderPath: string,
): Promise<void> {
  await t.prepare();
  const on = await loaderOn(t, loaderPath);
  const base = nodePinDir(id, node.name);
  const pins = await scanPins(t, on, base);
  for (const link of pins.links) await loader.detach(on, link.pin);
  if (t.unavailable() === undefined) {
    const ours = new Set(pins.versions.flatMap((v) => (v.progId === undefined ? [] : [v.progId])));
    for (const name of new Set([iface, ...pins.links.map((l) => l.iface)])) {
      const attached = await attachedProgram(t, name).catch((error) => {
        if (/does not exist|Cannot find device/i.test(String(error))) return undefined;
        throw error;
      });
      if (attached && ours.has(attached.id)) {
        await loader.clear(on, { netns: t.netns }, name);
        const after = await attachedProgram(t, name);
        if (after && ours.has(after.id))
          throw new Error(
            `program ${after.id} of this resource is still attached on ${name} and cannot be detached`,
          );
      }
    }
  }
  for (const version of pins.versions) await loader.forget(on, version.dir);
  await t.host("rm", ["-rf", base]);
  // The resource's directory goes with its last node there (nodes on one host share it).
  await t.host("rmdir", [join(PIN_ROOT, id)]).catch(() => undefined);
}

/** Refresh: what is on the node now compared with what was applied. */
export async function probe(
  t: NodeTransport,
  node: XdpNode,
  id: string,
  iface: string,
  applied: NodeAttachment | undefined,
  loaderPath: string,
  policy: boolean,
): Promise<NodeAttachment> {
  const gone = t.unavailable();
  if (gone) return { node: node.name, status: "detached", drift: gone };
  await t.prepare();
  const on = await loaderOn(t, loaderPath);
  const pins = await scanPins(t, on, nodePinDir(id, node.name));
  const state = await interfaceState(t, iface);
  const owner = ownerOf(pins, iface, state);
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
  if (owner.kind === "ours-netlink") {
    return {
      ...applied,
      node: node.name,
      status: "attached",
      programId: owner.program.id,
      drift: `${iface} runs our program without a link (a netlink detach would remove it)`,
    };
  }
  const dir = pins.versions.find((v) => v.progId === owner.program.id)?.dir;
  if (policy && dir) {
    const { active } = await loader.generations(on, dir);
    const mapsSha256 = mapsDigest(await loader.dump(on, dir, active, POLICY_MAPS));
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
  }
  return {
    ...applied,
    node: node.name,
    status: "attached",
    programId: owner.program.id,
    linkId: owner.link.state.linkId,
    ...(dir ? { pinDir: dir } : {}),
  };
}
