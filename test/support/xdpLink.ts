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

/** Detaches whatever XDP program is on the interface, as an operator (or Felix) would from outside. */
export function detachFromOutside(
  netns: string,
  iface: string,
  mode: "native" | "generic" | undefined,
): void {
  execFileSync("ip", [
    "netns",
    "exec",
    netns,
    "bpftool",
    "net",
    "detach",
    mode === "generic" ? "xdpgeneric" : "xdpdrv",
    "dev",
    iface,
  ]);
}
