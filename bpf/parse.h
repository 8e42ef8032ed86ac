/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/*
 * Packet parsing for the policy filter, in the style of xdp-tutorial's parsing_helpers.h: each
 * parse_* helper advances a cursor and checks `ptr + 1 > data_end` before every read. What the
 * program cannot know about a packet is recorded as unknown, never guessed. Bytes past the IP
 * header's total (IPv4) or payload (IPv6) length are padding, not packet: the cursor's `limit` stops
 * there, and `end` (data_end) stays for the verifier's bounds checks.
 */
#ifndef XDP_POLICY_PARSE_H
#define XDP_POLICY_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include "xdp_policy_maps.h"

#define VLAN_MAX_DEPTH 2
#define IPV6_EXT_MAX 4
#define IPPROTO_UDPLITE_ 136
#define IPPROTO_ICMPV6_ 58
#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_AUTH 51
#define NEXTHDR_DEST 60

enum parse_result { PARSE_OK = 0, PARSE_NON_IP = 1, PARSE_MALFORMED = 2 };

/* What is known about the L4 header. */
enum l4_state {
	L4_UNKNOWN = 0, /* protocol unknown, non-first fragment, or header cut short */
	L4_NONE = 1,	/* a protocol without ports or ICMP fields */
	L4_PORTS = 2,	/* TCP, UDP, UDPLite, SCTP: ports known (their first 4 bytes, as iptables reads them) */
	L4_ICMP = 3,	/* ICMP (IPv4) or ICMPv6 (IPv6): type and code known */
};

struct v6_addr {
	__u8 bytes[16];
};

struct packet {
	__u8 family; /* 4 or 6 */
	__u8 proto_known;
	__u8 protocol;
	__u8 l4;
	__u8 non_first_fragment;
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 reserved;
	__u16 sport; /* host order */
	__u16 dport;
	__u32 saddr4; /* network order */
	__u32 daddr4;
	struct v6_addr saddr6;
	struct v6_addr daddr6;
};

struct cursor {
	void *pos;
	void *end;   /* data_end */
	void *limit; /* the end of the IP packet, never past `end` */
};

struct vlan_hdr_ {
	__be16 tci;
	__be16 encapsulated_proto;
};

static __always_inline int is_vlan(__u16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD);
}

/* Ethernet plus up to VLAN_MAX_DEPTH tags; returns the inner EtherType (network order) or -1. */
static __always_inline int parse_ethhdr(struct cursor *c)
{
	struct ethhdr *eth = c->pos;
	if ((void *)(eth + 1) > c->end)
		return -1;
	c->pos = eth + 1;
	__u16 proto = eth->h_proto;
#pragma unroll
	for (int i = 0; i < VLAN_MAX_DEPTH; i++) {
		if (!is_vlan(proto))
			break;
		struct vlan_hdr_ *vlan = c->pos;
		if ((void *)(vlan + 1) > c->end)
			return -1;
		proto = vlan->encapsulated_proto;
		c->pos = vlan + 1;
	}
	return proto;
}

static __always_inline int parse_ipv4(struct cursor *c, struct packet *p)
{
	struct iphdr *iph = c->pos;
	if ((void *)(iph + 1) > c->end)
		return PARSE_MALFORMED;
	if (iph->version != 4 || iph->ihl < 5)
		return PARSE_MALFORMED;
	void *l4 = (void *)iph + iph->ihl * 4;
	if (l4 > c->end)
		return PARSE_MALFORMED;
	/* The kernel drops these before netfilter sees them: Calico never decides them. */
	__u16 total = bpf_ntohs(iph->tot_len);
	if (total < iph->ihl * 4 || (void *)iph + total > c->end)
		return PARSE_MALFORMED;
	c->limit = (void *)iph + total;
	p->family = 4;
	p->saddr4 = iph->saddr;
	p->daddr4 = iph->daddr;
	p->protocol = iph->protocol;
	p->proto_known = 1;
	p->non_first_fragment = (bpf_ntohs(iph->frag_off) & 0x1fff) != 0;
	c->pos = l4;
	return PARSE_OK;
}

static __always_inline int is_ipv6_ext(__u8 nexthdr)
{
	return nexthdr == NEXTHDR_HOP || nexthdr == NEXTHDR_ROUTING || nexthdr == NEXTHDR_FRAGMENT ||
	       nexthdr == NEXTHDR_AUTH || nexthdr == NEXTHDR_DEST;
}

struct ipv6_ext_ {
	__u8 nexthdr;
	__u8 hdrlen;
	__be16 frag_off; /* the fragment header's offset field; other headers' data */
	__u32 rest;
};

/* Walks at most IPV6_EXT_MAX extension headers; a longer or truncated chain leaves the protocol unknown. */
static __always_inline int parse_ipv6(struct cursor *c, struct packet *p)
{
	struct ipv6hdr *ip6h = c->pos;
	if ((void *)(ip6h + 1) > c->end)
		return PARSE_MALFORMED;
	if (ip6h->version != 6)
		return PARSE_MALFORMED;
	void *payload_end = (void *)(ip6h + 1) + bpf_ntohs(ip6h->payload_len);
	if (payload_end > c->end)
		return PARSE_MALFORMED;
	c->limit = payload_end;
	p->family = 6;
	__builtin_memcpy(&p->saddr6, &ip6h->saddr, sizeof(p->saddr6));
	__builtin_memcpy(&p->daddr6, &ip6h->daddr, sizeof(p->daddr6));
	c->pos = ip6h + 1;
	__u8 nexthdr = ip6h->nexthdr;
#pragma unroll
	for (int i = 0; i < IPV6_EXT_MAX; i++) {
		if (!is_ipv6_ext(nexthdr))
			break;
		struct ipv6_ext_ *ext = c->pos;
		if ((void *)(ext + 1) > c->end || (void *)(ext + 1) > c->limit)
			return PARSE_OK; /* truncated chain (every extension header is at least 8 bytes) */
		if (nexthdr == NEXTHDR_FRAGMENT && (bpf_ntohs(ext->frag_off) & 0xfff8)) {
			p->protocol = ext->nexthdr;
			p->proto_known = 1;
			p->non_first_fragment = 1;
			return PARSE_OK;
		}
		__u32 len = nexthdr == NEXTHDR_FRAGMENT ? 8
			    : nexthdr == NEXTHDR_AUTH	? ((__u32)ext->hdrlen + 2) * 4
							: ((__u32)ext->hdrlen + 1) * 8;
		if (c->pos + len > c->limit)
			return PARSE_OK; /* truncated chain */
		c->pos += len;
		nexthdr = ext->nexthdr;
	}
	if (is_ipv6_ext(nexthdr))
		return PARSE_OK; /* chain longer than IPV6_EXT_MAX: protocol unknown */
	p->protocol = nexthdr;
	p->proto_known = 1;
	return PARSE_OK;
}

struct ports_hdr_ {
	__be16 source;
	__be16 dest;
};

/* Reads ports when their 4 bytes are in the packet (iptables' multiport reads no more), ICMP type and
 * code when the 8-byte ICMP header is. */
static __always_inline void parse_l4(struct cursor *c, struct packet *p)
{
	if (!p->proto_known || p->non_first_fragment) {
		p->l4 = L4_UNKNOWN;
		return;
	}
	__u8 proto = p->protocol;
	int is_icmp = (p->family == 4 && proto == IPPROTO_ICMP) || (p->family == 6 && proto == IPPROTO_ICMPV6_);
	int need;
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE_ || proto == IPPROTO_SCTP)
		need = 4;
	else if (is_icmp)
		need = 8;
	else {
		p->l4 = L4_NONE;
		return;
	}
	if (c->pos + need > c->limit) {
		p->l4 = L4_UNKNOWN;
		return;
	}
	if (is_icmp) {
		__u8 *icmp = c->pos;
		if ((void *)(icmp + 2) > c->end) {
			p->l4 = L4_UNKNOWN;
			return;
		}
		p->icmp_type = icmp[0];
		p->icmp_code = icmp[1];
		p->l4 = L4_ICMP;
		return;
	}
	struct ports_hdr_ *ports = c->pos;
	if ((void *)(ports + 1) > c->end) {
		p->l4 = L4_UNKNOWN;
		return;
	}
	p->sport = bpf_ntohs(ports->source);
	p->dport = bpf_ntohs(ports->dest);
	p->l4 = L4_PORTS;
}

/* The whole frame: PARSE_OK with every field the program can know filled in. */
static __always_inline int parse_packet(struct xdp_md *ctx, struct packet *p)
{
	void *end = (void *)(long)ctx->data_end;
	struct cursor c = {.pos = (void *)(long)ctx->data, .end = end, .limit = end};
	int proto = parse_ethhdr(&c);
	if (proto < 0)
		return PARSE_MALFORMED;
	int result;
	if (proto == bpf_htons(ETH_P_IP))
		result = parse_ipv4(&c, p);
	else if (proto == bpf_htons(ETH_P_IPV6))
		result = parse_ipv6(&c, p);
	else
		return PARSE_NON_IP;
	if (result == PARSE_OK)
		parse_l4(&c, p);
	return result;
}

#endif
