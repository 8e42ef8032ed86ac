import { describe, expect, it } from "vitest";
import { formatCidr } from "../../sdk/calico/cidr";
import { compileXdpPolicy, encodeMaps, mapsDigest } from "../../sdk/xdp/compile";
import {
  addrMatch,
  CONFIG_SRC_V4_EXACT,
  CONFIG_SRC_V4_PREFIX,
  lpmV4Key,
  policyConfig,
  v4Key,
  valueMatch,
} from "../../sdk/xdp/layout";

const bit = (i: number) => 1n << BigInt(i);

describe("compileXdpPolicy", () => {
  it("GIVEN nested source nets WHEN compiled THEN each entry carries its enclosing prefixes", () => {
    const compiled = compileXdpPolicy(
      [
        { action: "Allow", source: { nets: ["198.18.7.0/24"], notNets: ["198.18.7.128/25"] } },
        { action: "Deny", source: { nets: ["198.18.0.0/15", "198.18.7.200/32"] } },
      ],
      { failsafeInbound: [{ protocol: "TCP", port: 22, net: "198.18.7.0/24" }] },
    );
    const table = Object.fromEntries(compiled.addresses.src[4].map((e) => [formatCidr(e.network), e.match]));
    expect(table).toEqual({
      "198.18.0.0/15": { nets: bit(1), not_nets: 0n, failsafe: 0, reserved: 0 },
      "198.18.7.0/24": { nets: bit(0) | bit(1), not_nets: 0n, failsafe: 1, reserved: 0 },
      "198.18.7.128/25": { nets: bit(0) | bit(1), not_nets: bit(0), failsafe: 1, reserved: 0 },
      "198.18.7.200/32": { nets: bit(0) | bit(1), not_nets: bit(0), failsafe: 1, reserved: 0 },
    });
    expect(compiled.config.flags & CONFIG_SRC_V4_EXACT).toBe(CONFIG_SRC_V4_EXACT);
    expect(compiled.config.src_nets).toBe(bit(0) | bit(1));
    expect(compiled.config.src_not_nets).toBe(bit(0));
  });

  it("GIVEN /32 and shorter prefixes WHEN encoded THEN exact addresses go to the hash map and prefixes to the trie", () => {
    const maps = encodeMaps(
      compileXdpPolicy([{ action: "Deny", source: { nets: ["198.18.7.200/32", "198.18.0.0/16"] } }]),
    );
    // Keys of generation 0; the prefix length counts the generation's 32 bits.
    expect(maps.src_v4_exact!.map((e) => v4Key.decode(e.key))).toEqual([
      { gen: 0, addr: new Uint8Array([198, 18, 7, 200]) },
    ]);
    expect(maps.src_v4_lpm!.map((e) => lpmV4Key.decode(e.key))).toEqual([
      { prefixlen: 32 + 16, gen: 0, addr: new Uint8Array([198, 18, 0, 0]) },
    ]);
    expect(addrMatch.decode(maps.src_v4_exact![0]!.value).nets).toBe(bit(0));
    expect(policyConfig.decode(maps.config![0]!.value).flags).toBe(
      CONFIG_SRC_V4_EXACT | CONFIG_SRC_V4_PREFIX,
    );
  });

  it("GIVEN ports, ranges, named ports and notPorts WHEN compiled THEN the port tables and masks say so", () => {
    const compiled = compileXdpPolicy([
      {
        action: "Deny",
        protocol: "TCP",
        destination: { ports: [80, "8080:8081", "metrics"], notPorts: [8081] },
      },
    ]);
    expect([...compiled.destinationPorts.keys()].sort((a, b) => a - b)).toEqual([80, 8080, 8081]);
    expect(compiled.destinationPorts.get(8081)).toEqual({ in_list: bit(0), in_not_list: bit(0) });
    expect(compiled.config).toMatchObject({
      dport_list: bit(0),
      dport_named: bit(0),
      dport_not: bit(0),
      dport_not_named: 0n,
    });
    expect(compiled.uncompiled.map((u) => u.matchers)).toEqual([['destination.ports "metrics"']]);
    expect(compiled.config.uncompilable).toBe(0n);
  });

  it("GIVEN ICMP type without code WHEN compiled THEN every code of that type is listed", () => {
    const compiled = compileXdpPolicy([{ action: "Deny", protocol: "ICMP", icmp: { type: 8 } }]);
    expect(compiled.icmp.size).toBe(256);
    expect(compiled.icmp.get((8 << 8) | 255)).toEqual({ in_list: bit(0), in_not_list: 0n });
    expect(compiled.config.v6_rules).toBe(0n);
  });

  it("GIVEN selectors WHEN compiled THEN the rule is marked uncompilable and its other matchers still compile", () => {
    const compiled = compileXdpPolicy([
      {
        action: "Deny",
        protocol: "UDP",
        source: { selector: "a == 'b'", nets: ["198.18.0.0/16"] },
        destination: { namespaceSelector: "global()" },
      },
    ]);
    expect(compiled.uncompiled).toEqual([
      {
        rule: 0,
        matchers: ["source.selector", "destination.namespaceSelector"],
        reason: expect.stringMatching(
          /^source.selector, destination.namespaceSelector cannot be evaluated in XDP: .*Calico's iptables/,
        ),
      },
    ]);
    expect(compiled.config.uncompilable).toBe(bit(0));
    expect(compiled.protocols.get(17)).toEqual({ in_list: bit(0), in_not_list: 0n });
    expect(compiled.addresses.src[4]).toHaveLength(1);
  });

  it("GIVEN default failsafe ports WHEN compiled THEN Calico's nine inbound entries are keyed by protocol and port", () => {
    const compiled = compileXdpPolicy([]);
    expect([...compiled.failsafePorts.keys()].map((k) => `${k >> 16}:${k & 0xffff}`).sort()).toEqual(
      ["6:22", "17:68", "6:179", "6:2379", "6:2380", "6:5473", "6:6443", "6:6666", "6:6667"].sort(),
    );
    expect(compiled.config.failsafe_any_net).toBe(0x1ff);
    expect(compiled.config.failsafe_udp).toBe(0b10);
  });

  it("GIVEN the same policy spelt differently WHEN digested THEN the digests are equal, and differ for another policy", () => {
    const a = mapsDigest(
      encodeMaps(compileXdpPolicy([{ action: "Deny", protocol: "TCP", destination: { ports: ["80", 81] } }])),
    );
    const b = mapsDigest(
      encodeMaps(compileXdpPolicy([{ destination: { ports: [80, "81:81"] }, protocol: 6, action: "Deny" }])),
    );
    const c = mapsDigest(
      encodeMaps(compileXdpPolicy([{ action: "Deny", protocol: "TCP", destination: { ports: [82] } }])),
    );
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    // A dump of an array map lists every index; the zero ones must not change the digest.
    const maps = encodeMaps(
      compileXdpPolicy([{ action: "Deny", protocol: "TCP", destination: { ports: [82] } }]),
    );
    const dumped = {
      ...maps,
      dport_match: [
        ...maps.dport_match!,
        { key: Buffer.from([9, 0, 0, 0]), value: Buffer.alloc(16) },
      ].reverse(),
    };
    expect(mapsDigest(dumped)).toBe(c);
    expect(valueMatch.size).toBe(16);
  });
});
