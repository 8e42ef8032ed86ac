/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/*
 * Constants and structs shared with TypeScript (provider/xdp/layout.ts). Every struct here has a TS
 * codec, and test/xdp/layout.test.ts checks that both sides agree on sizes and offsets.
 *
 * Rule sets are 64-bit masks: bit i stands for ingress rule i. Failsafe entries are 64-bit masks too:
 * bits 0-31 the inbound entries (matched on the destination port), bits 32-63 the outbound ones (their
 * replies, matched on the source port).
 *
 * Generations: every policy map holds the policy twice, and `active_gen` says which copy packets use,
 * so an update is written into the other copy and switched to at once. Hash keys start with the
 * generation (u32), LPM keys carry it after the prefix length (the prefix length counts its 32 bits),
 * and arrays hold generation g of index i at i * GENERATIONS + g (interleaved, so an array can be sized
 * to the policy: the program needs no stride). The loader (bpf/loader.c) relies on exactly this layout.
 */
#ifndef XDP_POLICY_SHARED_H
#define XDP_POLICY_SHARED_H

#include <linux/types.h>

#define MAX_RULES 64
/* Per failsafe list (inbound, outbound). */
#define MAX_FAILSAFE 32
#define FAILSAFE_OUTBOUND_SHIFT 32
/* Address map capacity per generation, family and direction of an object loaded as built; the loader sizes
 * a policy's maps to it (addressMapSizes in sdk/xdp/compile.ts). A policy holds at most MAX_CIDRS in all. */
#define MAX_ADDR_ENTRIES 1048576
#define MAX_CIDRS 1000000
#define GENERATIONS 2
/* The generation bits in front of an LPM key's address. */
#define GEN_PREFIX_BITS 32

/* Why the program returned what it did; index of verdict_stats. */
enum verdict_reason {
	REASON_NON_IP = 0,	/* not IPv4/IPv6 (also: a third VLAN tag) */
	REASON_MALFORMED = 1,	/* truncated or inconsistent header */
	REASON_FAILSAFE = 2,	/* a failsafe port: always passed */
	REASON_UNDECIDABLE = 3, /* a rule could not be decided: passed, iptables decides */
	REASON_NO_MATCH = 4,	/* no rule matched */
	REASON_ALLOW = 5,
	REASON_DENY = 6,
	REASON_PASS = 7,
	REASON_SHADOW_DENY = 8, /* a Deny rule matched in shadow mode: passed, counted as a would-drop */
	REASON_COUNT = 9,
};

/* Policy-wide masks (the single entry of the `config` map). */
struct policy_config {
	__u64 rules;		/* rules that exist */
	__u64 v4_rules;		/* rules that apply to IPv4 packets */
	__u64 v6_rules;		/* rules that apply to IPv6 packets */
	__u64 src_nets;		/* rules with source.nets */
	__u64 src_not_nets;	/* rules with source.notNets */
	__u64 dst_nets;
	__u64 dst_not_nets;
	__u64 protocol;		/* rules with protocol */
	__u64 not_protocol;	/* rules with notProtocol */
	__u64 sport_list;	/* rules with source.ports */
	__u64 sport_named;	/* ...of which some are named ports */
	__u64 sport_not;	/* rules with source.notPorts */
	__u64 sport_not_named;
	__u64 dport_list;
	__u64 dport_named;
	__u64 dport_not;
	__u64 dport_not_named;
	__u64 icmp;		/* rules with icmp */
	__u64 not_icmp;		/* rules with notICMP */
	__u64 src_sel;		/* rules with a source.selector resolved into the address tables */
	__u64 src_not_sel;	/* ...source.notSelector */
	__u64 dst_sel;
	__u64 dst_not_sel;
	__u64 sel_open;		/* rules whose selectors are unknown (not false) for addresses of no given object */
	__u64 uncompilable;	/* rules with a matcher XDP cannot evaluate (namespaceSelector, ...) */
	__u64 log;
	__u64 allow;
	__u64 deny;
	__u64 pass;
	__u64 failsafe_any_net; /* failsafe entries without a net: every source */
	__u64 failsafe_tcp;	/* failsafe entries by protocol */
	__u64 failsafe_udp;
	__u64 failsafe_sctp;
	__u32 flags;		/* CONFIG_* */
	__u32 rule_count;
	__u32 v4_absent_by_source; /* addr_match.by_source of a source in no address table */
	__u32 v6_absent_by_source;
	__u64 failsafe_port_hint; /* bit failsafe_hint_bit(port) of every port a failsafe entry lists */
};

/* Which address tables hold exact addresses (hash maps)... */
#define CONFIG_SRC_V4_EXACT (1u << 0)
#define CONFIG_SRC_V6_EXACT (1u << 1)
#define CONFIG_DST_V4_EXACT (1u << 2)
#define CONFIG_DST_V6_EXACT (1u << 3)
/* ...and prefixes in the LPM tries: a lookup in an empty table is skipped. */
#define CONFIG_SRC_V4_PREFIX (1u << 4)
#define CONFIG_SRC_V6_PREFIX (1u << 5)
#define CONFIG_DST_V4_PREFIX (1u << 6)
#define CONFIG_DST_V6_PREFIX (1u << 7)
/* Shadow mode: decide and count as usual, but pass what would be dropped. */
#define CONFIG_SHADOW (1u << 8)

/* What the policy says of an address: which rules' nets / notNets contain it, whose selector /
 * notSelector selects an object (network set, host endpoint) holding it, and which failsafe entries'
 * net contains it. Already merged over every enclosing prefix, since an LPM lookup returns only the
 * longest match. The address maps' values are indices into the addr_match array of the distinct ones:
 * a deny list's entries all share one, so a hash element holds 4 bytes, not 40 (96 bytes with the
 * allocator's header, not 128), and the few entries packets read stay in the cache. */
struct addr_match {
	__u64 nets;
	__u64 not_nets;
	__u64 sel;
	__u64 not_sel;
	__u64 failsafe;
	/* Source tables only: when the source address alone decides every packet of its family that the
	 * failsafe check leaves (each rule before the deciding one has a source matcher that is false for
	 * the address; the deciding one has only source matchers, all true for it), that rule's index + 1,
	 * or BY_SOURCE_NO_MATCH when every rule is false for the address; 0 when the rules must be
	 * evaluated. So a deny list's hit, or a source none of its rules lists, takes one lookup. */
	__u32 by_source;
};

#define BY_SOURCE_NO_MATCH (MAX_RULES + 1)

/* Keys of the exact-address hash maps. */
struct v4_key {
	__u32 gen;
	__u8 addr[4];
};

struct v6_key {
	__u32 gen;
	__u8 addr[16];
};

/* Keys of the LPM tries: prefixlen = GEN_PREFIX_BITS + the address prefix length. */
struct lpm_v4_key {
	__u32 prefixlen;
	__u32 gen;
	__u8 addr[4];
};

struct lpm_v6_key {
	__u32 prefixlen;
	__u32 gen;
	__u8 addr[16];
};

/* Value of proto_match (by protocol number), sport_match / dport_match (by port, host order) and
 * icmp_match (by type << 8 | code): which rules list this value in the positive and negated field. */
struct value_match {
	__u64 in_list;
	__u64 in_not_list;
};

/* Key of failsafe_ports; value: the failsafe entries it hits (__u32 mask). */
struct failsafe_key {
	__u32 gen;
	__u32 proto_port; /* FAILSAFE_BY_SOURCE_PORT for outbound entries | protocol << 16 | port */
};

/* Outbound failsafe entries pass inbound packets by their source port: replies to the host's own DNS,
 * DHCP, BGP, etcd and API-server traffic (Felix's raw failsafe chain does the same). */
#define FAILSAFE_BY_SOURCE_PORT (1u << 24)

/* failsafe_bits: per generation, one bit per (direction, protocol, port) that some failsafe entry lists,
 * in slots of 65536 bits (destination port: TCP, UDP, SCTP; then source port: the same), so a packet
 * to an unlisted port is told apart with array lookups, before any hash lookup. */
#define FAILSAFE_SLOTS 6
#define FAILSAFE_BIT_WORDS (FAILSAFE_SLOTS * 65536 / 64)

/* The port hint's bit for a port (Fibonacci hashing: the top 6 bits of port * 2^32 / phi). A packet
 * whose destination and source ports both miss the hint is no failsafe entry's, which the program knows
 * from the config it has already read: failsafe_bits is looked at only for the few other packets. */
#define FAILSAFE_HINT_MULTIPLIER 0x9e3779b1u

static inline __u32 failsafe_hint_bit(__u16 port)
{
	return ((__u32)port * FAILSAFE_HINT_MULTIPLIER) >> 26;
}

/* A generation's commit record (the gen_digest map): the first 16 bytes of the sha256 of the maps it
 * holds, cleared before the generation is written and set after, so all zero means incomplete. */
struct gen_digest {
	__u8 sha256[16];
};

struct counter {
	__u64 packets;
	__u64 bytes;
};

#endif
