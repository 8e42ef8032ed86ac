import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatCidr, formatIp, normalizeCidr } from "../../sdk/calico/cidr";
import {
  addressMapSizes,
  compileXdpPolicy,
  encodeMaps,
  entriesOf,
  MIN_ADDRESS_CAPACITY,
  mapsDigest,
} from "../../sdk/xdp/compile";
import {
  addrMatch,
  CONFIG_SRC_V4_EXACT,
  CONFIG_SRC_V4_PREFIX,
  FAILSAFE_BY_SOURCE_PORT,
  lpmV4Key,
  policyConfig,
  v4Key,
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
      "198.18.0.0/15": { nets: bit(1), not_nets: 0n, sel: 0n, not_sel: 0n, failsafe: 0n, by_source: 2 },
      "198.18.7.0/24": {
        nets: bit(0) | bit(1),
        not_nets: 0n,
        sel: 0n,
        not_sel: 0n,
        failsafe: 1n,
        by_source: 1,
      },
      "198.18.7.128/25": {
        nets: bit(0) | bit(1),
        not_nets: bit(0),
        sel: 0n,
        not_sel: 0n,
        failsafe: 1n,
        by_source: 2,
      },
      "198.18.7.200/32": {
        nets: bit(0) | bit(1),
        not_nets: bit(0),
        sel: 0n,
        not_sel: 0n,
        failsafe: 1n,
        by_source: 2,
      },
    });
    expect(compiled.config.flags & CONFIG_SRC_V4_EXACT).toBe(CONFIG_SRC_V4_EXACT);
    expect(compiled.config.src_nets).toBe(bit(0) | bit(1));
    expect(compiled.config.src_not_nets).toBe(bit(0));
  });

  it("GIVEN a deny list and an allowed source WHEN encoded THEN the address entries index one addr_match entry per distinct match, from 1", () => {
    const denied = ["198.18.1.1/32", "198.18.1.2/32", "198.18.1.3/32"];
    const maps = encodeMaps(
      compileXdpPolicy([
        { action: "Allow", source: { nets: ["198.18.2.2/32"] } },
        { action: "Deny", source: { nets: denied } },
      ]),
    );
    const indices = (name: string) => entriesOf(maps[name]).map((e) => e.value.readUInt32LE(0));
    const v4 = indices("src_v4_exact");
    // By address: the three denied, which share an entry, then the allowed one.
    expect(v4).toEqual([v4[0], v4[0], v4[0], v4[3]]);
    expect(v4[3]).not.toBe(v4[0]);
    const table = new Map(
      entriesOf(maps.addr_match).map((e) => [e.key.readUInt32LE(0), addrMatch.decode(e.value)]),
    );
    expect([...table.keys()].sort()).toEqual([1, 2]);
    expect(table.get(v4[0]!)).toMatchObject({ nets: bit(1), by_source: 2 });
    expect(table.get(v4[3]!)).toMatchObject({ nets: bit(0), by_source: 1 });
    expect(addressMapSizes(maps).addr_match).toBe(2 * MIN_ADDRESS_CAPACITY);
  });

  it("GIVEN address maps WHEN sized THEN both generations fit, a hash map at most half full, addr_match with its entry 0", () => {
    const packed = (count: number) => ({ keySize: 8, valueSize: 4, count, data: Buffer.alloc(0) });
    expect(
      addressMapSizes({ src_v4_exact: packed(1500), src_v4_lpm: packed(1500), addr_match: packed(1024) }),
    ).toEqual({ src_v4_exact: 2 * 4096, src_v4_lpm: 2 * 2048, addr_match: 2 * 2048 });
    expect(addressMapSizes({ dst_v6_exact: packed(0) })).toEqual({
      dst_v6_exact: 2 * MIN_ADDRESS_CAPACITY,
      addr_match: 2 * MIN_ADDRESS_CAPACITY,
    });
  });

  it("GIVEN /32 and shorter prefixes WHEN encoded THEN exact addresses go to the hash map and prefixes to the trie", () => {
    const maps = encodeMaps(
      compileXdpPolicy([{ action: "Deny", source: { nets: ["198.18.7.200/32", "198.18.0.0/16"] } }]),
    );
    // Keys of generation 0; the prefix length counts the generation's 32 bits.
    expect(entriesOf(maps.src_v4_exact).map((e) => v4Key.decode(e.key))).toEqual([
      { gen: 0, addr: new Uint8Array([198, 18, 7, 200]) },
    ]);
    expect(entriesOf(maps.src_v4_lpm).map((e) => lpmV4Key.decode(e.key))).toEqual([
      { prefixlen: 32 + 16, gen: 0, addr: new Uint8Array([198, 18, 0, 0]) },
    ]);
    const index = entriesOf(maps.src_v4_exact)[0]!.value.readUInt32LE(0);
    const match = entriesOf(maps.addr_match).find((e) => e.key.readUInt32LE(0) === index);
    expect(addrMatch.decode(match!.value).nets).toBe(bit(0));
    expect(policyConfig.decode(entriesOf(maps.config)[0]!.value).flags).toBe(
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
    expect(compiled.decisions).toEqual([
      {
        rule: 0,
        decides: "members",
        reason: 'destination.ports names "metrics": decided for its numeric ports only',
      },
    ]);
    expect(compiled.config.uncompilable).toBe(0n);
  });

  it("GIVEN ICMP type without code WHEN compiled THEN every code of that type is listed", () => {
    const compiled = compileXdpPolicy([{ action: "Deny", protocol: "ICMP", icmp: { type: 8 } }]);
    expect(compiled.icmp.size).toBe(256);
    expect(compiled.icmp.get((8 << 8) | 255)).toEqual({ in_list: bit(0), in_not_list: 0n });
    expect(compiled.config.v6_rules).toBe(0n);
  });

  it("GIVEN a namespaceSelector WHEN compiled THEN the rule is marked uncompilable, and its other matchers still compile", () => {
    const compiled = compileXdpPolicy([
      {
        action: "Deny",
        protocol: "UDP",
        source: { nets: ["198.18.0.0/16"] },
        destination: { namespaceSelector: "global()", selector: "a == 'b'" },
      },
    ]);
    expect(compiled.decisions).toEqual([
      {
        rule: 0,
        decides: "never",
        reason: expect.stringMatching(
          /^destination.namespaceSelector cannot be evaluated in XDP; destination.selector cannot be evaluated in XDP: .*Calico's rules/,
        ),
      },
    ]);
    expect(compiled.config.uncompilable).toBe(bit(0));
    expect(compiled.config.dst_sel).toBe(0n);
    expect(compiled.protocols.get(17)).toEqual({ in_list: bit(0), in_not_list: 0n });
    expect(compiled.addresses.src[4]).toHaveLength(1);
  });

  it("GIVEN default failsafe ports WHEN compiled THEN Calico's nine inbound entries are keyed by protocol and port", () => {
    const compiled = compileXdpPolicy([]);
    const inbound = [...compiled.failsafePorts.keys()].filter((k) => !(k & FAILSAFE_BY_SOURCE_PORT));
    expect(inbound.map((k) => `${k >> 16}:${k & 0xffff}`).sort()).toEqual(
      ["6:22", "17:68", "6:179", "6:2379", "6:2380", "6:5473", "6:6443", "6:6666", "6:6667"].sort(),
    );
    // Inbound entries are bits 0-8, Calico's nine outbound ones bits 32-40.
    expect(compiled.config.failsafe_any_net).toBe(0x1ffn | (0x1ffn << 32n));
    expect(compiled.config.failsafe_udp).toBe(0b10n | (0b11n << 32n));
  });

  it("GIVEN the default outbound failsafe ports WHEN compiled THEN they are keyed by source port, as replies", () => {
    const compiled = compileXdpPolicy([]);
    const outbound = [...compiled.failsafePorts.entries()].filter(([k]) => k & FAILSAFE_BY_SOURCE_PORT);
    expect(outbound.map(([k]) => `${(k >> 16) & 0xff}:${k & 0xffff}`).sort()).toEqual(
      ["17:53", "17:67", "6:179", "6:2379", "6:2380", "6:5473", "6:6443", "6:6666", "6:6667"].sort(),
    );
    expect(compiled.failsafePorts.get(FAILSAFE_BY_SOURCE_PORT | (17 << 16) | 53)).toBe(1n << 32n);
  });

  it("GIVEN two rules selecting one set, and a host endpoint WHEN compiled THEN each address is stored once with both rules' bits", () => {
    const compiled = compileXdpPolicy(
      [
        { action: "Deny", source: { selector: "deny == 'true'" } },
        { action: "Log", source: { selector: "has(deny)" } },
        { action: "Allow", destination: { notSelector: "role == 'db'" } },
      ],
      {
        networkSets: [{ name: "deny", labels: { deny: "true" }, nets: ["198.18.100.0/24", "198.18.101.7"] }],
        hostEndpoints: [{ name: "db-1", labels: { role: "db" }, expectedIPs: ["198.18.30.1"] }],
        selectorScope: "closed",
      },
    );
    expect(compiled.addresses.src[4].map((e) => [formatCidr(e.network), e.match.sel])).toEqual([
      ["198.18.100.0/24", bit(0) | bit(1)],
      ["198.18.101.7/32", bit(0) | bit(1)],
    ]);
    expect(compiled.addresses.dst[4].map((e) => [formatCidr(e.network), e.match.not_sel])).toEqual([
      ["198.18.30.1/32", bit(2)],
    ]);
    expect(compiled.config).toMatchObject({
      src_sel: bit(0) | bit(1),
      dst_not_sel: bit(2),
      sel_open: 0n,
      uncompilable: 0n,
    });
    expect(compiled.decisions.map((d) => d.decides)).toEqual(["always", "always", "always"]);
  });

  it("GIVEN open scope WHEN compiled THEN selector rules are decided for members only, and one selecting nothing never", () => {
    const compiled = compileXdpPolicy(
      [
        { action: "Deny", source: { selector: "deny == 'true'" } },
        { action: "Deny", source: { selector: "role == 'nobody'" } },
      ],
      { networkSets: [{ name: "deny", labels: { deny: "true" }, nets: ["198.18.100.0/24"] }] },
    );
    expect(compiled.config.sel_open).toBe(bit(0) | bit(1));
    expect(compiled.decisions).toEqual([
      {
        rule: 0,
        decides: "members",
        reason: expect.stringMatching(
          /^source.selector "deny == 'true'" is decided for the 1 addresses of deny;/,
        ),
      },
      {
        rule: 1,
        decides: "never",
        reason: expect.stringMatching(
          /^source.selector "role == 'nobody'" selects none of the given network sets/,
        ),
      },
    ]);
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
  });

  it("PROPERTY every packed map is in the loader's order: keys ascending by their bytes (memcmp)", () => {
    const net = fc.oneof(
      fc
        .tuple(fc.nat(0xffffffff), fc.integer({ min: 8, max: 32 }))
        .map(([a, l]) => normalizeCidr(`${formatIp(4, BigInt(a))}/${l}`)!),
      fc
        .tuple(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), fc.integer({ min: 16, max: 128 }))
        .map(([a, l]) => normalizeCidr(`${formatIp(6, a)}/${l}`)!),
    );
    const ports = fc.uniqueArray(fc.integer({ min: 1, max: 65535 }), { minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(
        fc.uniqueArray(net, { maxLength: 60 }),
        ports,
        fc.uniqueArray(fc.integer({ min: 1, max: 65535 }), { maxLength: 8 }),
        (nets, list, failsafe) => {
          const v4 = nets.filter((n) => !n.includes(":"));
          const v6 = nets.filter((n) => n.includes(":"));
          const maps = encodeMaps(
            compileXdpPolicy(
              [
                ...(v4.length ? [{ action: "Deny" as const, source: { nets: v4 } }] : []),
                ...(v6.length ? [{ action: "Deny" as const, destination: { nets: v6 } }] : []),
                { action: "Deny", protocol: "TCP", source: { ports: list }, destination: { ports: list } },
              ],
              {
                failsafeInbound: failsafe.map((port) => ({ protocol: "UDP" as const, port })),
                failsafeOutbound: [],
              },
            ),
          );
          for (const [name, map] of Object.entries(maps)) {
            const keys = entriesOf(map).map((e) => e.key);
            for (let i = 1; i < keys.length; i++)
              expect(Buffer.compare(keys[i - 1]!, keys[i]!), name).toBe(-1);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
