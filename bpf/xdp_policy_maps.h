/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/* The program's maps. Names are the pin file names, so they stay within 15 characters. Every policy
 * map holds GENERATIONS copies of the policy (see xdp_policy_shared.h). */
#ifndef XDP_POLICY_MAPS_H
#define XDP_POLICY_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "xdp_policy_shared.h"

/* Which generation packets use: written by the loader, read once per packet. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} active_gen SEC(".maps");

/* Commit records, for the loader only: the program never reads them. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GENERATIONS);
	__type(key, __u32);
	__type(value, struct gen_digest);
} gen_digest SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GENERATIONS);
	__type(key, __u32);
	__type(value, struct policy_config);
} config SEC(".maps");

#define ADDR_MAP(name, map_type, key_type)                          \
	struct {                                                    \
		__uint(type, map_type);                             \
		__uint(max_entries, GENERATIONS *MAX_ADDR_ENTRIES); \
		__uint(map_flags, BPF_F_NO_PREALLOC);               \
		__type(key, key_type);                              \
		__type(value, __u32);                               \
	} name SEC(".maps")

ADDR_MAP(src_v4_exact, BPF_MAP_TYPE_HASH, struct v4_key);
ADDR_MAP(src_v4_lpm, BPF_MAP_TYPE_LPM_TRIE, struct lpm_v4_key);
ADDR_MAP(src_v6_exact, BPF_MAP_TYPE_HASH, struct v6_key);
ADDR_MAP(src_v6_lpm, BPF_MAP_TYPE_LPM_TRIE, struct lpm_v6_key);
ADDR_MAP(dst_v4_exact, BPF_MAP_TYPE_HASH, struct v4_key);
ADDR_MAP(dst_v4_lpm, BPF_MAP_TYPE_LPM_TRIE, struct lpm_v4_key);
ADDR_MAP(dst_v6_exact, BPF_MAP_TYPE_HASH, struct v6_key);
ADDR_MAP(dst_v6_lpm, BPF_MAP_TYPE_LPM_TRIE, struct lpm_v6_key);

/* The distinct entries of the address maps, whose values are indices into it. Sized to the policy by
 * the loader, like the address maps. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GENERATIONS * 1024);
	__type(key, __u32);
	__type(value, struct addr_match);
} addr_match SEC(".maps");

/* Indexed by value * GENERATIONS + generation. */
#define VALUE_MAP(name, entries)                           \
	struct {                                           \
		__uint(type, BPF_MAP_TYPE_ARRAY);          \
		__uint(max_entries, GENERATIONS *(entries)); \
		__type(key, __u32);                        \
		__type(value, struct value_match);         \
	} name SEC(".maps")

#define PROTO_ENTRIES 256
#define PORT_ENTRIES 65536
#define ICMP_ENTRIES 65536
VALUE_MAP(proto_match, PROTO_ENTRIES);
VALUE_MAP(sport_match, PORT_ENTRIES);
VALUE_MAP(dport_match, PORT_ENTRIES);
VALUE_MAP(icmp_match, ICMP_ENTRIES);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GENERATIONS * 1024);
	__type(key, struct failsafe_key);
	__type(value, __u64);
} failsafe_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GENERATIONS * FAILSAFE_BIT_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} failsafe_bits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_RULES);
	__type(key, __u32);
	__type(value, struct counter);
} rule_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, REASON_COUNT);
	__type(key, __u32);
	__type(value, struct counter);
} verdict_stats SEC(".maps");

#endif
