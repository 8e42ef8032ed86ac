import { execFileSync } from "node:child_process";

/** The id of the XDP program attached to an interface in a namespace, read with `ip -j link show`. */
export function attachedId(netns: string, iface: string): number | undefined {
  return attachedProgram(netns, iface)?.id;
}

export function attachedProgram(netns: string, iface: string): { id: number; name: string } | undefined {
  const [link] = JSON.parse(
    execFileSync("ip", ["-n", netns, "-j", "link", "show", "dev", iface], { encoding: "utf8" }),
  );
  return link?.xdp?.prog;
}

/**
 * Removes whatever XDP program is on the interface, as an operator with full rights would from outside:
 * a bpf_link is detached by id (`bpftool link detach`), a netlink attachment with `ip link set ... off`.
 */
export function detachFromOutside(netns: string, iface: string): void {
  const program = attachedProgram(netns, iface);
  if (!program) return;
  const links = JSON.parse(execFileSync("bpftool", ["link", "show", "-j"], { encoding: "utf8" })) as {
    id: number;
    prog_id: number;
  }[];
  const link = links.find((l) => l.prog_id === program.id);
  if (link) {
    execFileSync("bpftool", ["link", "detach", "id", String(link.id)]);
    return;
  }
  for (const mode of ["xdpgeneric", "xdpdrv"]) {
    try {
      execFileSync("ip", ["-n", netns, "link", "set", "dev", iface, mode, "off"], { stdio: "ignore" });
    } catch {
      // attached in the other mode
    }
  }
}
