import { describe, expect, it } from "vitest";
import type { z } from "zod";
import {
  globalNetworkPolicySpecSchema,
  hostEndpointSpecSchema,
  policyNameSchema,
  protoPortSchema,
} from "../../sdk/calico/resources";
import { egressRuleSchema, ingressRuleSchema } from "../../sdk/calico/rule";
import { parseOrThrow, ValidationError } from "../../sdk/calico/zodkit";
import { felixConfigurationArgsSchema, renderFelixConfigurationArgs } from "../../sdk/felixConfiguration";
import { globalNetworkSetArgsSchema } from "../../sdk/globalNetworkSet";
import { hostEndpointArgsSchema } from "../../sdk/hostEndpoint";
import { untrackedPolicyArgsSchema } from "../../sdk/untrackedPolicy";

const hep = { node: "node-1", interfaceName: "eth0", labels: { hep: "redis-host" } };
const tcp = { action: "Allow", protocol: "TCP" };

type Case = [name: string, schema: z.ZodType, input: unknown, message: RegExp];

const cases: Case[] = [
  // HostEndpoint
  [
    "uppercase node name",
    hostEndpointArgsSchema,
    { ...hep, node: "Node-1" },
    /^node "Node-1" must be lowercase.*did you mean "node-1"\?/,
  ],
  [
    "underscore in node name",
    hostEndpointArgsSchema,
    { ...hep, node: "node_1" },
    /^node "node_1" .*did you mean "node-1"\?/,
  ],
  [
    "over-long node name",
    hostEndpointArgsSchema,
    { ...hep, node: "n".repeat(254) },
    /^node "n+" is 254 characters long: at most 253/,
  ],
  [
    "shell metacharacters in interface",
    hostEndpointArgsSchema,
    { ...hep, interfaceName: "eth0;rm -rf /" },
    /^interfaceName "eth0;rm -rf \/" is not an interface name/,
  ],
  [
    "16-character interface",
    hostEndpointArgsSchema,
    { ...hep, interfaceName: "abcdefghijklmnop" },
    /^interfaceName "abcdefghijklmnop" is 16 characters long: Linux interface names have at most 15/,
  ],
  [
    "interface wildcard prefix",
    hostEndpointArgsSchema,
    { ...hep, interfaceName: "eth*" },
    /^interfaceName "eth\*" uses a wildcard: only "\*" alone/,
  ],
  [
    "CIDR in expectedIPs",
    hostEndpointArgsSchema,
    { ...hep, expectedIPs: ["10.0.0.1/32"] },
    /^expectedIPs\[0\] "10.0.0.1\/32" is a CIDR: expectedIPs takes addresses, did you mean "10.0.0.1"\?/,
  ],
  [
    "bad expected IP",
    hostEndpointArgsSchema,
    { ...hep, expectedIPs: ["300.1.1.1"] },
    /^expectedIPs\[0\] "300.1.1.1" is not an IP address/,
  ],
  [
    "neither interface nor IPs",
    hostEndpointArgsSchema,
    { node: "n1", labels: { a: "b" } },
    /^interfaceName is required when expectedIPs is empty/,
  ],
  [
    "space in label key",
    hostEndpointArgsSchema,
    { ...hep, labels: { "bad key": "x" } },
    /^labels\.bad key label key "bad key": name part must be/,
  ],
  [
    "uppercase label prefix",
    hostEndpointArgsSchema,
    { ...hep, labels: { "Example.com/a": "x" } },
    /label key "Example.com\/a": prefix "Example.com" must be a lowercase DNS subdomain/,
  ],
  [
    "label value too long",
    hostEndpointArgsSchema,
    { ...hep, labels: { a: "v".repeat(64) } },
    /^labels\.a "v+" is 64 characters long: at most 63/,
  ],
  [
    "label value with space",
    hostEndpointArgsSchema,
    { ...hep, labels: { a: "b c" } },
    /^labels\.a "b c" must be letters, digits/,
  ],
  [
    "profile with underscore",
    hostEndpointArgsSchema,
    { ...hep, profiles: ["default_allow"] },
    /^profiles\[0\] "default_allow" .*did you mean "default-allow"\?/,
  ],
  [
    "uppercase port name",
    hostEndpointArgsSchema,
    { ...hep, ports: [{ name: "HTTP", port: 80, protocol: "TCP" }] },
    /^ports\[0\]\.name "HTTP" a port name must be lowercase/,
  ],
  [
    "port name with double dash",
    hostEndpointArgsSchema,
    { ...hep, ports: [{ name: "a--b", port: 80, protocol: "TCP" }] },
    /^ports\[0\]\.name "a--b" a port name must be lowercase letters, digits and single '-'/,
  ],
  [
    "port name without letter",
    hostEndpointArgsSchema,
    { ...hep, ports: [{ name: "8080", port: 80, protocol: "TCP" }] },
    /^ports\[0\]\.name "8080" a port name must contain at least one letter/,
  ],
  [
    "host port 0",
    hostEndpointArgsSchema,
    { ...hep, ports: [{ name: "x", port: 0, protocol: "TCP" }] },
    /^ports\[0\]\.port .*>=1/,
  ],
  [
    "lowercase host port protocol",
    hostEndpointArgsSchema,
    { ...hep, ports: [{ name: "x", port: 1, protocol: "tcp" }] },
    /^ports\[0\]\.protocol "tcp" is not a protocol: did you mean "TCP"\?/,
  ],
  [
    "ICMP host port",
    hostEndpointArgsSchema,
    { ...hep, ports: [{ name: "x", port: 1, protocol: "ICMP" }] },
    /^ports\[0\]\.protocol "ICMP" has no ports: use "TCP", "UDP" or "SCTP"/,
  ],
  [
    "lowercase defaultAction",
    hostEndpointArgsSchema,
    { ...hep, defaultAction: "deny" },
    /^defaultAction "deny" is not a default action: did you mean "Deny"\?/,
  ],
  [
    "invalid resourceName",
    hostEndpointArgsSchema,
    { ...hep, resourceName: "Redis_Host" },
    /^resourceName "Redis_Host" .*did you mean "redis-host"\?/,
  ],
  [
    "misspelt field",
    hostEndpointArgsSchema,
    { ...hep, interface: "eth0" },
    /unknown field "interface": did you mean "interfaceName"\?/,
  ],
  [
    "unknown apiVersion",
    hostEndpointArgsSchema,
    { ...hep, apiVersion: "projectcalico.org/v1" },
    /^apiVersion "projectcalico.org\/v1" is not a Calico API version: did you mean "projectcalico.org\/v3"\?/,
  ],
  // Rules
  [
    "lowercase action",
    ingressRuleSchema,
    { action: "allow" },
    /^action "allow" is not an action: did you mean "Allow"\?/,
  ],
  [
    "missing action",
    ingressRuleSchema,
    { protocol: "TCP" },
    /^action must be an action \(one of Allow, Deny, Log, Pass\)/,
  ],
  [
    "action Drop",
    ingressRuleSchema,
    { action: "Drop" },
    /^action "Drop" is not an action: expected one of "Allow", "Deny", "Log", "Pass"/,
  ],
  [
    "lowercase protocol",
    ingressRuleSchema,
    { action: "Allow", protocol: "tcp" },
    /^protocol "tcp" is not a protocol: did you mean "TCP"\?/,
  ],
  [
    "icmpv6 spelling",
    ingressRuleSchema,
    { action: "Allow", protocol: "icmpv6" },
    /^protocol "icmpv6" is not a protocol: did you mean "ICMPv6"\?/,
  ],
  [
    "udplite spelling",
    ingressRuleSchema,
    { action: "Allow", protocol: "UDPlite" },
    /did you mean "UDPLite"\?/,
  ],
  [
    "protocol 256",
    ingressRuleSchema,
    { action: "Allow", protocol: 256 },
    /^protocol 256 is not a protocol number: use 1..255/,
  ],
  ["protocol 0", ingressRuleSchema, { action: "Allow", protocol: 0 }, /^protocol 0 is not a protocol number/],
  [
    "lowercase notProtocol",
    ingressRuleSchema,
    { action: "Deny", notProtocol: "udp" },
    /^notProtocol "udp" is not a protocol: did you mean "UDP"\?/,
  ],
  [
    "host bits in net",
    ingressRuleSchema,
    { action: "Allow", source: { nets: ["10.0.0.1/24"] } },
    /^source\.nets\[0\] "10.0.0.1\/24" is not a network address: did you mean "10.0.0.0\/24"\?/,
  ],
  [
    "net without prefix",
    ingressRuleSchema,
    { action: "Allow", source: { nets: ["10.0.0.7"] } },
    /^source\.nets\[0\] "10.0.0.7" has no prefix length: did you mean "10.0.0.7\/32"\?/,
  ],
  [
    "v6 net without prefix",
    ingressRuleSchema,
    { action: "Allow", source: { nets: ["fd00::7"] } },
    /did you mean "fd00::7\/128"\?/,
  ],
  [
    "prefix 33",
    ingressRuleSchema,
    { action: "Allow", source: { nets: ["10.0.0.0/33"] } },
    /^source\.nets\[0\] "10.0.0.0\/33" has an invalid prefix length/,
  ],
  [
    "v6 host bits",
    ingressRuleSchema,
    { action: "Allow", destination: { nets: ["fd00::1/64"] } },
    /^destination\.nets\[0\] "fd00::1\/64" is not a network address: did you mean "fd00::\/64"\?/,
  ],
  [
    "not a CIDR",
    ingressRuleSchema,
    { action: "Allow", source: { nets: ["banana/8"] } },
    /^source\.nets\[0\] "banana\/8" is not a CIDR/,
  ],
  [
    "empty nets",
    ingressRuleSchema,
    { action: "Allow", source: { nets: [] } },
    /^source\.nets must not be empty: Calico reads \[\] as no restriction, so omit the field/,
  ],
  [
    "catch-all notNets v4",
    ingressRuleSchema,
    { action: "Allow", source: { notNets: ["0.0.0.0/0"] } },
    /^source\.notNets\[0\] "0.0.0.0\/0" matches every address/,
  ],
  [
    "catch-all notNets v6",
    ingressRuleSchema,
    { action: "Allow", destination: { notNets: ["::/0"] } },
    /^destination\.notNets\[0\] "::\/0" matches every address/,
  ],
  [
    "v4 and v6 mixed",
    ingressRuleSchema,
    { action: "Allow", source: { nets: ["10.0.0.0/8"] }, destination: { nets: ["fd00::/8"] } },
    /^destination\.nets\[0\] "fd00::\/8" is IPv6 but the rule's first net "10.0.0.0\/8" makes this an IPv4 rule/,
  ],
  [
    "ipVersion disagrees with nets",
    ingressRuleSchema,
    { action: "Allow", ipVersion: 6, source: { nets: ["10.0.0.0/8"] } },
    /^source\.nets\[0\] "10.0.0.0\/8" is IPv4 but ipVersion 6 makes this an IPv6 rule/,
  ],
  ["ipVersion 5", ingressRuleSchema, { action: "Allow", ipVersion: 5 }, /^ipVersion must be 4 or 6/],
  [
    "ICMP with ipVersion 6",
    ingressRuleSchema,
    { action: "Allow", protocol: "ICMP", ipVersion: 6 },
    /^ipVersion 6 contradicts protocol "ICMP": did you mean 4\?/,
  ],
  [
    "ICMPv6 with v4 nets",
    ingressRuleSchema,
    { action: "Allow", protocol: "ICMPv6", source: { nets: ["10.0.0.0/8"] } },
    /"10.0.0.0\/8" is IPv4 but protocol "ICMPv6" makes this an IPv6 rule/,
  ],
  [
    "ports without protocol",
    ingressRuleSchema,
    { action: "Allow", destination: { ports: [80] } },
    /^destination\.ports\[0\] 80 needs a protocol: set protocol to "TCP", "UDP" or "SCTP"/,
  ],
  [
    "range without protocol",
    ingressRuleSchema,
    { action: "Allow", source: { ports: ["1:2"] } },
    /^source\.ports\[0\] "1:2" needs a protocol/,
  ],
  [
    "ports with ICMP",
    ingressRuleSchema,
    { action: "Allow", protocol: "ICMP", destination: { ports: [80] } },
    /^destination\.ports\[0\] 80: protocol "ICMP" has no ports; only TCP, UDP and SCTP do/,
  ],
  [
    "named port with ICMP",
    ingressRuleSchema,
    { action: "Allow", protocol: "ICMP", destination: { ports: ["http"] } },
    /^destination\.ports\[0\] "http": protocol "ICMP" has no ports/,
  ],
  [
    "notPorts with UDPLite",
    ingressRuleSchema,
    { action: "Allow", protocol: "UDPLite", destination: { notPorts: [53] } },
    /^destination\.notPorts\[0\] 53: protocol "UDPLite" has no ports/,
  ],
  [
    "reversed range",
    ingressRuleSchema,
    { ...tcp, destination: { ports: ["80:70"] } },
    /^destination\.ports\[0\] "80:70" is not a port range: did you mean "70:80"\?/,
  ],
  [
    "port 0",
    ingressRuleSchema,
    { ...tcp, destination: { ports: [0] } },
    /^destination\.ports\[0\] 0 is not a port: use 1..65535/,
  ],
  [
    "port 65536",
    ingressRuleSchema,
    { ...tcp, destination: { ports: [65536] } },
    /^destination\.ports\[0\] 65536 is not a port/,
  ],
  [
    "range beyond 65535",
    ingressRuleSchema,
    { ...tcp, destination: { ports: ["1:70000"] } },
    /"1:70000" is not a port range: ports are 1..65535/,
  ],
  [
    "numeric string out of range",
    ingressRuleSchema,
    { ...tcp, destination: { ports: ["99999"] } },
    /^destination\.ports\[0\] 99999 is not a port/,
  ],
  [
    "named port with underscore",
    ingressRuleSchema,
    { ...tcp, destination: { ports: ["redis_port"] } },
    /^destination\.ports\[0\] "redis_port": a port name must be lowercase/,
  ],
  [
    "named port too long",
    ingressRuleSchema,
    { ...tcp, destination: { ports: ["a-very-long-port-name"] } },
    /a port name must be 1 to 15 characters/,
  ],
  [
    "icmp without protocol",
    ingressRuleSchema,
    { action: "Allow", icmp: { type: 8 } },
    /^icmp needs protocol "ICMP" or "ICMPv6"/,
  ],
  [
    "icmp with a protocol number",
    ingressRuleSchema,
    { action: "Allow", protocol: 1, icmp: { type: 8 } },
    /^icmp needs protocol "ICMP" or "ICMPv6" by name \(not 1\)/,
  ],
  [
    "notProtocol ICMP with ipVersion 6",
    ingressRuleSchema,
    { action: "Allow", notProtocol: "ICMP", ipVersion: 6 },
    /^ipVersion 6 contradicts notProtocol "ICMP": did you mean 4\?/,
  ],
  [
    "ports beside a destination service",
    egressRuleSchema,
    { ...tcp, destination: { ports: [80], services: { name: "web", namespace: "default" } } },
    /^destination\.ports cannot be combined with services: a destination service matches its endpoints' own ports/,
  ],
  [
    "a service without a namespace",
    ingressRuleSchema,
    { action: "Allow", source: { services: { name: "web" } } },
    /^source\.services\.namespace is required in a GlobalNetworkPolicy/,
  ],
  [
    "an http match",
    ingressRuleSchema,
    { action: "Allow", http: { methods: ["GET"] } },
    /^http is application layer policy/,
  ],
  [
    "an annotation key that is not a qualified name",
    ingressRuleSchema,
    { action: "Allow", metadata: { annotations: { "...": "x" } } },
    /^metadata\.annotations\.\.\.\. annotation key "\.\.\."/,
  ],
  [
    "icmp code without type",
    ingressRuleSchema,
    { action: "Allow", protocol: "ICMP", icmp: { code: 0 } },
    /^icmp\.code needs a type: set icmp.type too/,
  ],
  [
    "icmp type 255",
    ingressRuleSchema,
    { action: "Allow", protocol: "ICMP", icmp: { type: 255 } },
    /^icmp\.type .*<=254/,
  ],
  [
    "icmp code 256",
    ingressRuleSchema,
    { action: "Allow", protocol: "ICMP", notICMP: { type: 3, code: 256 } },
    /^notICMP\.code .*<=255/,
  ],
  [
    "single = in selector",
    ingressRuleSchema,
    { action: "Allow", source: { selector: "role = 'db'" } },
    /^source\.selector "role = 'db'" is not a valid selector: expected == at position 5/,
  ],
  [
    "unclosed has(",
    ingressRuleSchema,
    { action: "Allow", source: { selector: "has(role" } },
    /^source\.selector "has\(role" is not a valid selector: no closing '\)' after has\(/,
  ],
  [
    "unterminated string",
    ingressRuleSchema,
    { action: "Allow", source: { selector: "a == 'x" } },
    /is not a valid selector: unterminated string at position 5/,
  ],
  [
    "global() in selector",
    ingressRuleSchema,
    { action: "Allow", source: { selector: "global()" } },
    /^source\.selector "global\(\)": global\(\) is only allowed alone, in a rule's namespaceSelector/,
  ],
  [
    "global() combined",
    ingressRuleSchema,
    { action: "Allow", source: { namespaceSelector: "global() && a == 'b'" } },
    /^source\.namespaceSelector .*global\(\) is only allowed alone/,
  ],
  [
    "services with nets",
    egressRuleSchema,
    { action: "Allow", destination: { services: { name: "db", namespace: "x" }, nets: ["10.0.0.0/8"] } },
    /^destination\.services cannot be combined with nets/,
  ],
  [
    "services in ingress destination",
    ingressRuleSchema,
    { action: "Allow", destination: { services: { name: "db" } } },
    /^destination\.services is not allowed in ingress rules' destination/,
  ],
  [
    "services in egress source",
    egressRuleSchema,
    { action: "Allow", source: { services: { name: "db" } } },
    /^source\.services is not allowed in egress rules' source/,
  ],
  [
    "misspelt rule field",
    ingressRuleSchema,
    { action: "Allow", Protocol: "TCP" },
    /unknown field "Protocol": did you mean "protocol"\?/,
  ],
  [
    "misspelt entity field",
    ingressRuleSchema,
    { action: "Allow", source: { net: ["10.0.0.0/8"] } },
    /^source unknown field "net": did you mean "nets"\?/,
  ],
  // GlobalNetworkPolicy
  [
    "doNotTrack with preDNAT",
    globalNetworkPolicySpecSchema,
    { doNotTrack: true, preDNAT: true, applyOnForward: true },
    /^preDNAT cannot be true together with doNotTrack/,
  ],
  [
    "doNotTrack without applyOnForward",
    globalNetworkPolicySpecSchema,
    { doNotTrack: true },
    /^applyOnForward must be true when doNotTrack is true/,
  ],
  [
    "preDNAT without applyOnForward",
    globalNetworkPolicySpecSchema,
    { preDNAT: true },
    /^applyOnForward must be true when preDNAT is true/,
  ],
  [
    "preDNAT with egress",
    globalNetworkPolicySpecSchema,
    { preDNAT: true, applyOnForward: true, egress: [{ action: "Allow" }] },
    /^egress preDNAT policies cannot have egress rules/,
  ],
  [
    "duplicate types",
    globalNetworkPolicySpecSchema,
    { types: ["Ingress", "Ingress"] },
    /^types must not repeat an entry/,
  ],
  [
    "lowercase type",
    globalNetworkPolicySpecSchema,
    { types: ["ingress"] },
    /^types\[0\] "ingress" is not a policy type: did you mean "Ingress"\?/,
  ],
  [
    "policy name with two dots",
    policyNameSchema,
    "a.b.c",
    /^"a.b.c" must be lowercase letters, digits and '-', with at most one '.'/,
  ],
  // GlobalNetworkSet
  [
    "bad set net",
    globalNetworkSetArgsSchema,
    { nets: ["10.0.0.300"], labels: { a: "b" } },
    /^nets\[0\] "10.0.0.300" is not an IP address or CIDR/,
  ],
  [
    "a reserved label on a network set",
    globalNetworkSetArgsSchema,
    { nets: [], labels: { "projectcalico.org/namespace": "x" } },
    /^labels\.projectcalico\.org\/namespace is reserved by Calico for namespaced objects/,
  ],
  [
    "set without labels",
    globalNetworkSetArgsSchema,
    { nets: ["10.0.0.0/8"], labels: {} },
    /^labels must have at least one label, so rules can select this set/,
  ],
  // FelixConfiguration
  [
    "duration without unit",
    felixConfigurationArgsSchema,
    { xdpRefreshInterval: "90" },
    /^xdpRefreshInterval "90" is not a duration: write e.g. "90s"/,
  ],
  [
    "failsafe port 70000",
    felixConfigurationArgsSchema,
    { failsafeOutboundHostPorts: [{ port: 70000 }] },
    /^failsafeOutboundHostPorts\[0\]\.port .*<=65535/,
  ],
  [
    "non-boolean xdpEnabled",
    felixConfigurationArgsSchema,
    { xdpEnabled: "yes" },
    /^xdpEnabled must be a boolean, not a string/,
  ],
  // UntrackedPolicy
  [
    "policy without rules",
    untrackedPolicyArgsSchema,
    { selector: "a == 'b'" },
    /^ingress is empty and so is egress: give at least one rule/,
  ],
  [
    "returnTraffic spelling",
    untrackedPolicyArgsSchema,
    { selector: "all()", ingress: [{ action: "Deny" }], returnTraffic: "mirrored" },
    /^returnTraffic "mirrored" is not a returnTraffic mode: did you mean "mirror"\?/,
  ],
  [
    "nested rule path",
    untrackedPolicyArgsSchema,
    { ingress: [{ action: "Allow" }, { action: "Allow", protocol: "tcp" }] },
    /^ingress\[1\]\.protocol "tcp" is not a protocol: did you mean "TCP"\?/,
  ],
  [
    "policy resourceName",
    untrackedPolicyArgsSchema,
    { ingress: [{ action: "Deny" }], resourceName: "a.b.c" },
    /^resourceName "a.b.c" must be lowercase letters, digits and '-', with at most one '.'/,
  ],
];

describe("invalid input is rejected with the field path and a fix", () => {
  it("covers at least 60 distinct cases", () => {
    expect(new Set(cases.map(([name]) => name)).size).toBe(cases.length);
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });

  it.each(cases)("GIVEN %s WHEN parsed THEN the message names the field", (_name, schema, input, message) => {
    let thrown: unknown;
    try {
      parseOrThrow(schema, input, "subject");
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ValidationError);
    const problems = (thrown as ValidationError).problems;
    expect(
      problems.some((p) => message.test(p)),
      `problems were:\n${problems.join("\n")}`,
    ).toBe(true);
  });
});

describe("valid input", () => {
  it("GIVEN Calico's memcached rules WHEN parsed THEN they are accepted unchanged", () => {
    const ingress = {
      action: "Allow",
      protocol: "TCP",
      source: { selector: "memcached == 'client'" },
      destination: { ports: [12211] },
    };
    expect(ingressRuleSchema.parse(ingress)).toEqual(ingress);
  });

  it("GIVEN numeric strings, ranges and names as ports WHEN parsed THEN they render as Calico writes them", () => {
    const rule = ingressRuleSchema.parse({
      ...tcp,
      destination: { ports: ["6379", "7000:7005", "redis", "8:8"] },
    });
    expect(rule.destination?.ports).toEqual([6379, "7000:7005", "redis", 8]);
  });

  it("GIVEN an uppercase IPv6 net WHEN parsed THEN it renders in canonical spelling", () => {
    const rule = ingressRuleSchema.parse({ action: "Deny", source: { nets: ["2001:DB8:0:0::/64"] } });
    expect(rule.source?.nets).toEqual(["2001:db8::/64"]);
  });

  it("GIVEN a named port without a protocol WHEN parsed THEN it is accepted", () => {
    expect(
      ingressRuleSchema.parse({ action: "Allow", destination: { ports: ["redis"] } }).destination?.ports,
    ).toEqual(["redis"]);
  });

  it("GIVEN protocol numbers WHEN ports are given THEN 6, 17 and 132 carry ports", () => {
    for (const protocol of [6, 17, 132]) {
      expect(
        ingressRuleSchema.safeParse({ action: "Allow", protocol, destination: { ports: [1] } }).success,
      ).toBe(true);
    }
    expect(
      ingressRuleSchema.safeParse({ action: "Allow", protocol: 1, destination: { ports: [1] } }).success,
    ).toBe(false);
  });

  it("GIVEN global() alone in a namespaceSelector WHEN parsed THEN it is accepted", () => {
    expect(
      ingressRuleSchema.safeParse({ action: "Allow", source: { namespaceSelector: "global()" } }).success,
    ).toBe(true);
  });

  it("GIVEN a set with bare IPs, unmasked CIDRs and both families WHEN parsed THEN it is accepted", () => {
    const args = globalNetworkSetArgsSchema.parse({
      nets: ["10.0.0.1", "10.0.0.1/24", "fd00::1"],
      labels: { a: "b" },
    });
    expect(args.nets).toEqual(["10.0.0.1", "10.0.0.1/24", "fd00::1"]);
  });
});

describe("what Calico accepts beyond its test tables (read from its validator)", () => {
  it("GIVEN a host endpoint port by protocol number WHEN parsed THEN it is accepted; without ports it is refused", () => {
    const spec = (protocol: unknown) => ({
      node: "n",
      interfaceName: "eth0",
      ports: [{ name: "p", port: 80, protocol }],
    });
    expect(hostEndpointSpecSchema.safeParse(spec(6)).success).toBe(true);
    expect(() => parseOrThrow(hostEndpointSpecSchema, spec(1), "HostEndpoint")).toThrow(
      /ports\[0\]\.protocol 1 has no ports/,
    );
  });

  it('GIVEN interfaceName "" with expectedIPs WHEN parsed THEN it is unset, as Calico reads it', () => {
    const parsed = hostEndpointSpecSchema.parse({
      node: "n",
      interfaceName: "",
      expectedIPs: ["198.18.0.1"],
    });
    expect(parsed.interfaceName).toBeUndefined();
  });

  it("GIVEN a failsafe entry in lower case with host bits WHEN parsed THEN it means what Felix makes of it", () => {
    expect(protoPortSchema.parse({ protocol: "tcp", port: 22, net: "10.0.0.1/8" })).toEqual({
      protocol: "TCP",
      port: 22,
      net: "10.0.0.0/8",
    });
  });

  it("GIVEN failsafeInboundHostPorts [] WHEN rendered THEN the empty list reaches Calico (it turns them off)", () => {
    const object = renderFelixConfigurationArgs(
      felixConfigurationArgsSchema.parse({ failsafeInboundHostPorts: [] }),
    );
    expect(object.spec).toEqual({ failsafeInboundHostPorts: [] });
  });

  it("GIVEN a missing required field or one of the wrong type WHEN parsed THEN it says so in words, beside the other problems", () => {
    expect(() =>
      parseOrThrow(
        hostEndpointSpecSchema,
        { interfaceName: "eth0 x", expectedIPs: "198.18.0.1" },
        "HostEndpoint",
      ),
    ).toThrow(
      /node is required\n.*interfaceName "eth0 x" is not an interface name.*\n.*expectedIPs must be an array, not a string/s,
    );
  });
});
