// SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0)
/* Baseline: the least a deny-list filter with failsafe ports can do, the shape of Calico Felix's XDP
 * prefilter: parse Ethernet + IPv4 (+ the TCP/UDP destination port), pass a failsafe port, drop a
 * source found in an LPM trie. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct v4_key {
	__u32 prefixlen;
	__u32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 10240); /* Felix's prefilter trie size */
	__type(key, struct v4_key);
	__type(value, __u32);
} deny_v4 SEC(".maps");

struct failsafe_key {
	__u8 protocol;
	__u8 pad;
	__u16 port; /* network order */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct failsafe_key);
	__type(value, __u32);
} failsafe SEC(".maps");

SEC("xdp")
int xdp_prefilter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	struct iphdr *iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > end || iph->ihl != 5)
		return XDP_PASS;
	if (iph->protocol == IPPROTO_TCP || iph->protocol == IPPROTO_UDP) {
		/* Both headers start with the source and destination ports. */
		struct udphdr *l4 = (void *)(iph + 1);
		if ((void *)(l4 + 1) > end)
			return XDP_PASS;
		struct failsafe_key fk = {.protocol = iph->protocol, .port = l4->dest};
		if (bpf_map_lookup_elem(&failsafe, &fk))
			return XDP_PASS;
	}
	struct v4_key key = {.prefixlen = 32, .addr = iph->saddr};
	return bpf_map_lookup_elem(&deny_v4, &key) ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
