import type { Reason } from "../../sdk/xdp/layout";
import type { PacketSpec } from "../../sdk/xdp/packet";
import type { XdpPolicyInput } from "../../sdk/xdp/policy";

export interface Fixture {
  readonly name: string;
  readonly packet: PacketSpec;
  readonly verdict: "XDP_PASS" | "XDP_DROP";
  readonly reason: Reason;
  readonly rule: number | null;
  /** Rule counters this packet moves (Log rules before the decision, then the deciding rule). */
  readonly counted: readonly number[];
}

export interface FixtureGroup {
  readonly name: string;
  readonly policy: XdpPolicyInput;
  readonly fixtures: readonly Fixture[];
}

const TCP = 6;
const UDP = 17;
const ICMP = 1;
const ICMPV6 = 58;

const pass = (
  reason: Reason,
  rule: number | null = null,
  counted: number[] = rule === null ? [] : [rule],
) => ({
  verdict: "XDP_PASS" as const,
  reason,
  rule,
  counted,
});
const drop = (rule: number, counted: number[] = [rule]) => ({
  verdict: "XDP_DROP" as const,
  reason: "deny" as const,
  rule,
  counted,
});

/** A redis-host-like policy with one rule per matcher kind. */
const everyMatcher: XdpPolicyInput = {
  ingress: [
    { action: "Log", protocol: "TCP", source: { nets: ["198.18.9.0/24"] }, destination: { ports: [6379] } },
    {
      action: "Allow",
      protocol: "TCP",
      source: { nets: ["198.18.1.0/24"], notNets: ["198.18.1.128/25"] },
      destination: { ports: [6379] },
    },
    { action: "Deny", protocol: "TCP", destination: { ports: [6379] } },
    { action: "Pass", protocol: "UDP", source: { ports: [53] } },
    { action: "Deny", protocol: "UDP", destination: { ports: ["1000:2000"], notPorts: [1500] } },
    { action: "Deny", protocol: "SCTP", destination: { ports: [9999] } },
    { action: "Deny", protocol: "UDPLite" },
    { action: "Deny", protocol: "ICMP", icmp: { type: 8 } },
    { action: "Allow", protocol: "ICMP", icmp: { type: 3, code: 1 } },
    { action: "Deny", protocol: "ICMP", notICMP: { type: 0 } },
    { action: "Deny", protocol: "ICMPv6", icmp: { type: 128 } },
    { action: "Deny", protocol: 47 },
    { action: "Deny", ipVersion: 6, protocol: "TCP", destination: { ports: [8080] } },
    { action: "Deny", protocol: "TCP", destination: { nets: ["198.18.50.50/32"], ports: [80] } },
    { action: "Deny", protocol: "TCP", source: { nets: ["fd00:bad::/32"] } },
    { action: "Deny", notProtocol: "TCP", source: { nets: ["198.18.66.0/24"] } },
    {
      action: "Deny",
      protocol: "TCP",
      source: { selector: "role == 'attacker'" },
      destination: { ports: [7000] },
    },
    { action: "Deny", protocol: "TCP", destination: { ports: [8000, "metrics"] } },
  ],
  failsafeInbound: [
    { protocol: "TCP", port: 22 },
    { protocol: "UDP", port: 68 },
    { protocol: "TCP", port: 2222, net: "198.18.5.0/24" },
  ],
  failsafeOutbound: [],
};

const redis = { protocol: TCP, destinationPort: 6379 };

/** The objects the selector groups' rules can select. */
const SELECTABLE: Pick<XdpPolicyInput, "networkSets" | "hostEndpoints"> = {
  networkSets: [
    {
      name: "dos-deny-list",
      labels: { "dos-deny-list": "true" },
      nets: ["198.18.100.0/24", "198.18.101.7", "198.18.102.9/24", "fd00:100::/48"],
    },
    { name: "partners", labels: { role: "partner" }, nets: ["198.18.200.0/24", "fd00:200::7"] },
  ],
  hostEndpoints: [
    { name: "db-1-eth0", labels: { role: "db" }, expectedIPs: ["198.18.30.1", "fd00:30::1"] },
    { name: "no-ips-eth0", labels: { role: "db" } },
  ],
};

export const FIXTURE_GROUPS: readonly FixtureGroup[] = [
  {
    name: "every matcher",
    policy: everyMatcher,
    fixtures: [
      { name: "ARP frame is not IP", packet: { etherType: 0x0806 }, ...pass("non-ip") },
      { name: "IPv4 EtherType with a cut header", packet: { truncate: 20 }, ...pass("malformed") },
      { name: "IPv4 IHL below 5", packet: { ihl: 4 }, ...pass("malformed") },
      { name: "IPv4 options beyond the frame", packet: { ihl: 15, truncate: 40 }, ...pass("malformed") },
      { name: "cut VLAN tag", packet: { vlans: [0x8100], truncate: 16 }, ...pass("malformed") },
      {
        name: "IPv6 with a wrong version nibble",
        packet: { family: 6, etherType: 0x0800, truncate: 60 },
        ...pass("malformed"),
      },
      { name: "TCP 6379 from anywhere: Deny", packet: { ...redis, source: "198.18.2.1" }, ...drop(2) },
      {
        name: "TCP 6379 from a client: Allow",
        packet: { ...redis, source: "198.18.1.5" },
        ...pass("allow", 1),
      },
      {
        name: "TCP 6379 from the client net's notNets: Deny",
        packet: { ...redis, source: "198.18.1.200" },
        ...drop(2),
      },
      {
        name: "Log rule counts, then Deny decides",
        packet: { ...redis, source: "198.18.9.9" },
        ...drop(2, [0, 2]),
      },
      { name: "one 802.1Q tag", packet: { ...redis, vlans: [0x8100] }, ...drop(2) },
      { name: "802.1ad + 802.1Q tags", packet: { ...redis, vlans: [0x88a8, 0x8100] }, ...drop(2) },
      {
        name: "a third VLAN tag is not parsed",
        packet: { ...redis, vlans: [0x88a8, 0x8100, 0x8100] },
        ...pass("non-ip"),
      },
      { name: "IPv4 with options", packet: { ...redis, ihl: 6 }, ...drop(2) },
      {
        name: "UDP from source port 53: Pass",
        packet: { protocol: UDP, sourcePort: 53, destinationPort: 4444 },
        ...pass("pass", 3),
      },
      { name: "UDP into a denied range", packet: { protocol: UDP, destinationPort: 1200 }, ...drop(4) },
      {
        name: "UDP on the range's notPorts",
        packet: { protocol: UDP, destinationPort: 1500 },
        ...pass("no-match"),
      },
      { name: "SCTP port", packet: { protocol: 132, destinationPort: 9999 }, ...drop(5) },
      { name: "UDPLite", packet: { protocol: 136, destinationPort: 1 }, ...drop(6) },
      { name: "ICMP echo request", packet: { protocol: ICMP, icmpType: 8 }, ...drop(7) },
      {
        name: "ICMP type and code",
        packet: { protocol: ICMP, icmpType: 3, icmpCode: 1 },
        ...pass("allow", 8),
      },
      { name: "ICMP notICMP true", packet: { protocol: ICMP, icmpType: 3, icmpCode: 2 }, ...drop(9) },
      { name: "ICMP notICMP false", packet: { protocol: ICMP, icmpType: 0 }, ...pass("no-match") },
      { name: "ICMPv6 echo request", packet: { family: 6, protocol: ICMPV6, icmpType: 128 }, ...drop(10) },
      {
        name: "ICMPv6 echo reply",
        packet: { family: 6, protocol: ICMPV6, icmpType: 129 },
        ...pass("no-match"),
      },
      { name: "protocol number 47", packet: { protocol: 47 }, ...drop(11) },
      {
        name: "non-first IPv4 fragment keeps its protocol",
        packet: { protocol: 47, fragmentOffset: 100 },
        ...drop(11),
      },
      {
        name: "non-first TCP fragment: failsafe undecidable",
        packet: { ...redis, fragmentOffset: 100 },
        ...pass("undecidable"),
      },
      {
        name: "TCP header of 3 bytes: its ports are unknown, so the failsafe check is undecidable",
        packet: { ...redis, l4Bytes: 3 },
        ...pass("undecidable"),
      },
      {
        name: "TCP header of 10 bytes: its ports are known, as iptables reads 4 bytes",
        packet: { ...redis, l4Bytes: 10 },
        ...drop(2),
      },
      {
        name: "UDP header of 4 bytes: ports known",
        packet: { protocol: UDP, destinationPort: 1200, l4Bytes: 4 },
        ...drop(4),
      },
      {
        name: "UDP header of 3 bytes completed by Ethernet padding: the padding is not the packet",
        packet: { protocol: UDP, destinationPort: 1200, l4Bytes: 3, padding: 12 },
        ...pass("undecidable"),
      },
      {
        name: "ICMP header of 7 bytes: type and code unknown",
        packet: { protocol: ICMP, icmpType: 8, l4Bytes: 7 },
        ...pass("undecidable"),
      },
      {
        name: "IPv4 total length past the frame: the kernel drops it before Calico",
        packet: { ...redis, ipLength: 200 },
        ...pass("malformed"),
      },
      {
        name: "IPv4 total length below its header",
        packet: { ...redis, ipLength: 16 },
        ...pass("malformed"),
      },
      {
        name: "IPv6 payload length past the frame",
        packet: { family: 6, ...redis, ipLength: 400 },
        ...pass("malformed"),
      },
      {
        name: "IPv4 frame with Ethernet padding after the packet",
        packet: { ...redis, padding: 20 },
        ...drop(2),
      },
      {
        name: "failsafe TCP 22",
        packet: { protocol: TCP, destinationPort: 22, source: "198.18.9.9" },
        ...pass("failsafe"),
      },
      {
        name: "failsafe with a net, from inside",
        packet: { protocol: TCP, destinationPort: 2222, source: "198.18.5.5" },
        ...pass("failsafe"),
      },
      {
        name: "failsafe with a net, from outside: the named port is undecidable",
        packet: { protocol: TCP, destinationPort: 2222, source: "198.18.6.6" },
        ...pass("undecidable"),
      },
      {
        name: "numeric part of a named-port list",
        packet: { protocol: TCP, destinationPort: 8000 },
        ...drop(17),
      },
      {
        name: "selector rule is undecidable when its other matchers hold",
        packet: { protocol: TCP, destinationPort: 7000 },
        ...pass("undecidable"),
      },
      {
        name: "ipVersion 6 rule on IPv6",
        packet: { family: 6, protocol: TCP, destinationPort: 8080 },
        ...drop(12),
      },
      {
        name: "ipVersion 6 rule skipped on IPv4",
        packet: { protocol: TCP, destinationPort: 8080 },
        ...pass("undecidable"),
      },
      {
        name: "exact destination address",
        packet: { protocol: TCP, destination: "198.18.50.50", destinationPort: 80 },
        ...drop(13),
      },
      {
        name: "IPv6 source prefix",
        packet: { family: 6, protocol: TCP, source: "fd00:bad::1", destinationPort: 1234 },
        ...drop(14),
      },
      {
        name: "notProtocol with a source net",
        packet: { protocol: UDP, source: "198.18.66.1", destinationPort: 9 },
        ...drop(15),
      },
      { name: "IPv6 TCP 6379", packet: { family: 6, ...redis }, ...drop(2) },
      {
        name: "IPv6 hop-by-hop and destination options",
        packet: { family: 6, ...redis, extensions: [{ type: 0 }, { type: 60, length: 16 }] },
        ...drop(2),
      },
      {
        name: "IPv6 with four extension headers",
        packet: { family: 6, ...redis, extensions: [{ type: 0 }, { type: 60 }, { type: 43 }, { type: 60 }] },
        ...drop(2),
      },
      {
        name: "IPv6 with five extension headers: protocol unknown",
        packet: {
          family: 6,
          ...redis,
          extensions: [{ type: 0 }, { type: 60 }, { type: 43 }, { type: 60 }, { type: 60 }],
        },
        ...pass("undecidable"),
      },
      {
        name: "IPv6 extension header longer than the payload",
        packet: {
          family: 6,
          ...redis,
          extensions: [{ type: 60, length: 24 }],
          ipLength: 16,
          truncate: 14 + 40 + 16,
        },
        ...pass("undecidable"),
      },
      {
        name: "IPv6 authentication header",
        packet: { family: 6, ...redis, extensions: [{ type: 51, length: 12 }] },
        ...drop(2),
      },
      {
        name: "IPv6 first fragment is parsed",
        packet: { family: 6, ...redis, extensions: [{ type: 44, fragmentOffset: 0 }] },
        ...drop(2),
      },
      {
        name: "IPv6 non-first UDP fragment: failsafe undecidable",
        packet: { family: 6, protocol: UDP, extensions: [{ type: 44, fragmentOffset: 10 }] },
        ...pass("undecidable"),
      },
      {
        name: "IPv6 non-first GRE fragment keeps its protocol",
        packet: { family: 6, protocol: 47, extensions: [{ type: 44, fragmentOffset: 10 }] },
        ...drop(11),
      },
    ],
  },
  {
    name: "nested prefixes and exact addresses",
    policy: {
      ingress: [
        { action: "Allow", source: { nets: ["198.18.7.200/32"] } },
        { action: "Allow", source: { nets: ["198.18.7.0/24"], notNets: ["198.18.7.128/25"] } },
        { action: "Deny", source: { nets: ["198.18.0.0/15"] } },
        { action: "Deny", source: { nets: ["fd00:1::7/128", "fd00:2::/32"] } },
      ],
      failsafeInbound: [],
      failsafeOutbound: [],
    },
    fixtures: [
      {
        name: "exact /32 inside an excluded half",
        packet: { protocol: UDP, source: "198.18.7.200" },
        ...pass("allow", 0),
      },
      {
        name: "in the /24, outside its notNets",
        packet: { protocol: UDP, source: "198.18.7.5" },
        ...pass("allow", 1),
      },
      { name: "in the /24's notNets", packet: { protocol: UDP, source: "198.18.7.130" }, ...drop(2) },
      { name: "only in the /15", packet: { protocol: UDP, source: "198.19.1.1" }, ...drop(2) },
      { name: "in no net", packet: { protocol: UDP, source: "192.0.2.1" }, ...pass("no-match") },
      { name: "exact /128", packet: { family: 6, protocol: UDP, source: "fd00:1::7" }, ...drop(3) },
      {
        name: "next to the exact /128",
        packet: { family: 6, protocol: UDP, source: "fd00:1::8" },
        ...pass("no-match"),
      },
      { name: "IPv6 prefix", packet: { family: 6, protocol: UDP, source: "fd00:2::99" }, ...drop(3) },
    ],
  },
  {
    name: "no failsafe ports",
    policy: { ingress: [{ action: "Deny" }], failsafeInbound: [], failsafeOutbound: [] },
    fixtures: [
      {
        name: "non-first TCP fragment is denied when no failsafe entry could match",
        packet: { ...redis, fragmentOffset: 10 },
        ...drop(0),
      },
      { name: "SSH is denied too", packet: { protocol: TCP, destinationPort: 22 }, ...drop(0) },
    ],
  },
  {
    name: "no rules",
    policy: { ingress: [] },
    fixtures: [
      { name: "nothing matches", packet: redis, ...pass("no-match") },
      { name: "failsafe still first", packet: { protocol: UDP, destinationPort: 68 }, ...pass("failsafe") },
    ],
  },
  {
    name: "outbound failsafe: replies to the host's own DNS, DHCP and BGP",
    policy: {
      ingress: [{ action: "Deny" }],
      failsafeInbound: [],
      failsafeOutbound: [
        { protocol: "UDP", port: 53 },
        { protocol: "UDP", port: 67 },
        { protocol: "TCP", port: 179 },
        { protocol: "TCP", port: 6443, net: "198.18.64.0/24" },
      ],
    },
    fixtures: [
      {
        name: "a DNS reply",
        packet: { protocol: UDP, sourcePort: 53, destinationPort: 41000 },
        ...pass("failsafe"),
      },
      {
        name: "a DHCP reply",
        packet: { protocol: UDP, sourcePort: 67, destinationPort: 68 },
        ...pass("failsafe"),
      },
      {
        name: "a BGP reply",
        packet: { protocol: TCP, sourcePort: 179, destinationPort: 50000 },
        ...pass("failsafe"),
      },
      { name: "UDP from port 54", packet: { protocol: UDP, sourcePort: 54 }, ...drop(0) },
      { name: "TCP from port 53: another protocol", packet: { protocol: TCP, sourcePort: 53 }, ...drop(0) },
      {
        name: "UDP to port 53: not a reply",
        packet: { protocol: UDP, sourcePort: 40000, destinationPort: 53 },
        ...drop(0),
      },
      {
        name: "an API-server reply from the entry's net",
        packet: { protocol: TCP, source: "198.18.64.9", sourcePort: 6443 },
        ...pass("failsafe"),
      },
      {
        name: "from port 6443 outside the entry's net",
        packet: { protocol: TCP, source: "198.18.65.9", sourcePort: 6443 },
        ...drop(0),
      },
      {
        name: "a non-first UDP fragment: the reply check is undecidable",
        packet: { protocol: UDP, sourcePort: 53, fragmentOffset: 10 },
        ...pass("undecidable"),
      },
      {
        name: "IPv6 DNS reply",
        packet: { family: 6, protocol: UDP, sourcePort: 53, destinationPort: 41000 },
        ...pass("failsafe"),
      },
    ],
  },
  {
    name: "protocol numbers apply to both families, names to one",
    policy: {
      ingress: [
        { action: "Deny", protocol: "ICMP" },
        { action: "Deny", protocol: 1 },
      ],
      failsafeInbound: [],
      failsafeOutbound: [],
    },
    fixtures: [
      { name: "ICMP on IPv4: the name's rule", packet: { protocol: ICMP }, ...drop(0) },
      {
        name: "protocol 1 on IPv6: only the number's rule applies",
        packet: { family: 6, protocol: ICMP },
        ...drop(1),
      },
    ],
  },
  ...selectorGroups(),
];

function selectorGroups(): FixtureGroup[] {
  const quiet = { failsafeInbound: [], failsafeOutbound: [] };
  return [
    {
      name: "a DoS deny list, open scope (Calico's guide)",
      policy: {
        ...SELECTABLE,
        ...quiet,
        ingress: [
          { action: "Deny", source: { selector: "dos-deny-list == 'true'" } },
          { action: "Allow", protocol: "UDP" },
        ],
      },
      fixtures: [
        { name: "a source in a listed /24", packet: { protocol: UDP, source: "198.18.100.5" }, ...drop(0) },
        { name: "a listed bare address", packet: { protocol: UDP, source: "198.18.101.7" }, ...drop(0) },
        {
          name: "a listed CIDR with host bits: its network",
          packet: { protocol: UDP, source: "198.18.102.200" },
          ...drop(0),
        },
        {
          name: "a listed IPv6 prefix",
          packet: { family: 6, protocol: UDP, source: "fd00:100::5" },
          ...drop(0),
        },
        {
          name: "any other source: objects XDP was not given may be selected, so Calico decides",
          packet: { protocol: UDP, source: "198.18.9.9" },
          ...pass("undecidable"),
        },
      ],
    },
    {
      name: "the same objects, closed scope",
      policy: {
        ...SELECTABLE,
        ...quiet,
        selectorScope: "closed",
        ingress: [
          { action: "Deny", source: { selector: "dos-deny-list == 'true'" } },
          {
            action: "Allow",
            protocol: "TCP",
            source: { selector: "role == 'partner'" },
            destination: { ports: [8443] },
          },
          {
            action: "Deny",
            protocol: "TCP",
            source: { notSelector: "role == 'partner'" },
            destination: { ports: [443] },
          },
          {
            action: "Allow",
            protocol: "TCP",
            source: { selector: "role == 'db'" },
            destination: { ports: [5432] },
          },
          { action: "Deny", protocol: "TCP", destination: { ports: [5432] } },
          { action: "Deny", source: { selector: "role == 'nobody'" } },
        ],
      },
      fixtures: [
        { name: "a listed source", packet: { protocol: UDP, source: "198.18.100.5" }, ...drop(0) },
        {
          name: "an unlisted source goes on",
          packet: { protocol: UDP, source: "198.18.9.9" },
          ...pass("no-match"),
        },
        {
          name: "a partner on 8443",
          packet: { protocol: TCP, source: "198.18.200.1", destinationPort: 8443 },
          ...pass("allow", 1),
        },
        {
          name: "a partner on IPv6",
          packet: { family: 6, protocol: TCP, source: "fd00:200::7", destinationPort: 8443 },
          ...pass("allow", 1),
        },
        {
          name: "not a partner on 443: notSelector true",
          packet: { protocol: TCP, source: "198.18.9.9", destinationPort: 443 },
          ...drop(2),
        },
        {
          name: "a partner on 443: notSelector false",
          packet: { protocol: TCP, source: "198.18.200.1", destinationPort: 443 },
          ...pass("no-match"),
        },
        {
          name: "the database host endpoint's address",
          packet: { protocol: TCP, source: "198.18.30.1", destinationPort: 5432 },
          ...pass("allow", 3),
        },
        {
          name: "another address on 5432",
          packet: { protocol: TCP, source: "198.18.30.2", destinationPort: 5432 },
          ...drop(4),
        },
      ],
    },
    {
      name: "selectors open: notSelector, destinations, ports, no objects, namespaceSelector",
      policy: {
        ...SELECTABLE,
        ...quiet,
        ingress: [
          {
            action: "Allow",
            protocol: "UDP",
            source: { notSelector: "dos-deny-list == 'true'" },
            destination: { ports: [9] },
          },
          { action: "Deny", protocol: "UDP", destination: { ports: [9] } },
          { action: "Deny", protocol: "TCP", destination: { selector: "role == 'db'", ports: [5432] } },
          {
            action: "Deny",
            protocol: "TCP",
            source: { selector: "role == 'partner'" },
            destination: { ports: [23] },
          },
          {
            action: "Deny",
            protocol: "TCP",
            source: { selector: "role == 'nobody'" },
            destination: { ports: [24] },
          },
          {
            action: "Deny",
            protocol: "TCP",
            source: { selector: "dos-deny-list == 'true'", namespaceSelector: "all()" },
            destination: { ports: [25] },
          },
        ],
      },
      fixtures: [
        {
          name: "notSelector, a member: false, so the next rule decides",
          packet: { protocol: UDP, source: "198.18.100.5", destinationPort: 9 },
          ...drop(1),
        },
        {
          name: "notSelector, anyone else: unknown",
          packet: { protocol: UDP, source: "198.18.9.9", destinationPort: 9 },
          ...pass("undecidable"),
        },
        {
          name: "a destination selector, to the host endpoint's IPv6 address",
          packet: { family: 6, protocol: TCP, destination: "fd00:30::1", destinationPort: 5432 },
          ...drop(2),
        },
        {
          name: "a destination selector, to another address",
          packet: { protocol: TCP, destination: "198.18.30.9", destinationPort: 5432 },
          ...pass("undecidable"),
        },
        {
          name: "a selector plus ports, a member on its port",
          packet: { protocol: TCP, source: "198.18.200.3", destinationPort: 23 },
          ...drop(3),
        },
        {
          name: "a selector plus ports, a member on another port: the rule does not match",
          packet: { protocol: TCP, source: "198.18.200.3", destinationPort: 26 },
          ...pass("no-match"),
        },
        {
          name: "a selector that selects no given object stays unknown",
          packet: { protocol: TCP, source: "198.18.200.3", destinationPort: 24 },
          ...pass("undecidable"),
        },
        {
          name: "a selector beside a namespaceSelector stays unknown, even for a set member",
          packet: { protocol: TCP, source: "198.18.100.5", destinationPort: 25 },
          ...pass("undecidable"),
        },
      ],
    },
    {
      name: "shadow mode (enforce: false)",
      policy: { ...everyMatcher, enforce: false },
      fixtures: [
        {
          name: "what a Deny rule matches is passed and counted as a would-drop",
          packet: { ...redis, source: "198.18.2.1" },
          ...pass("shadow-deny", 2),
        },
        {
          name: "Allow rules still allow",
          packet: { ...redis, source: "198.18.1.7" },
          ...pass("allow", 1),
        },
        {
          name: "failsafe ports are still failsafe",
          packet: { protocol: TCP, source: "198.18.2.1", destinationPort: 22 },
          ...pass("failsafe"),
        },
      ],
    },
  ];
}
