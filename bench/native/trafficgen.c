// SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0)
/*
 * A traffic generator that delivers frames as a NIC driver would: it runs the frame writer
 * (bench/programs/trafficgen.c) with BPF_PROG_RUN and BPF_F_TEST_XDP_LIVE_FRAMES, which redirects each
 * frame into one end of a veth pair; the other end's XDP program gets it as an xdp_frame.
 *
 *   trafficgen OBJECT IFNAME DST_MAC DST_IP SOURCES_FILE FRAMES CPU [RATE]
 *
 * Runs in the sender's network namespace, pinned to CPU at the lowest priority (the peer's NAPI poll
 * then runs there too, first, so the time per frame is the whole path's). SOURCES_FILE has one IPv4 or IPv6 address per line, all of
 * DST_IP's family. With RATE (frames per second) it sends in 10 ms slices and sleeps between them, as a
 * steady flood; without, as fast as the path allows. Prints {"frames":N,"seconds":S} on success.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAYLOAD 18

struct gen_config {
	__u32 ifindex;
	__u32 count;
};

static int fail(const char *what)
{
	fprintf(stderr, "trafficgen: %s: %s\n", what, strerror(errno));
	return 1;
}

static int parse_mac(const char *text, unsigned char mac[ETH_ALEN])
{
	return sscanf(text, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4],
		      &mac[5]) == ETH_ALEN ? 0 : -1;
}

/* The template: Ethernet, IPv4 or IPv6, UDP to port 9 (discard) from port 1024; sources come later. */
static size_t build_frame(unsigned char *frame, const unsigned char mac[ETH_ALEN], int family,
			  const void *dst)
{
	struct ethhdr *eth = (struct ethhdr *)frame;
	size_t l3;

	memset(frame, 0, 128);
	memcpy(eth->h_dest, mac, ETH_ALEN);
	eth->h_source[0] = 0x02; /* locally administered */
	if (family == AF_INET) {
		struct iphdr *iph = (struct iphdr *)(eth + 1);
		eth->h_proto = htons(ETH_P_IP);
		iph->version = 4;
		iph->ihl = 5;
		iph->ttl = 64;
		iph->protocol = IPPROTO_UDP;
		iph->tot_len = htons(sizeof(*iph) + sizeof(struct udphdr) + PAYLOAD);
		memcpy(&iph->daddr, dst, 4);
		l3 = sizeof(*iph);
	} else {
		struct ipv6hdr *ip6h = (struct ipv6hdr *)(eth + 1);
		eth->h_proto = htons(ETH_P_IPV6);
		ip6h->version = 6;
		ip6h->hop_limit = 64;
		ip6h->nexthdr = IPPROTO_UDP;
		ip6h->payload_len = htons(sizeof(struct udphdr) + PAYLOAD);
		memcpy(&ip6h->daddr, dst, 16);
		l3 = sizeof(*ip6h);
	}
	struct udphdr *udp = (struct udphdr *)(frame + sizeof(*eth) + l3);
	udp->source = htons(1024);
	udp->dest = htons(9);
	udp->len = htons(sizeof(*udp) + PAYLOAD);
	return sizeof(*eth) + l3 + sizeof(*udp) + PAYLOAD;
}

int main(int argc, char **argv)
{
	if (argc != 8 && argc != 9) {
		fprintf(stderr, "usage: trafficgen OBJECT IFNAME DST_MAC DST_IP SOURCES_FILE FRAMES CPU [RATE]\n");
		return 2;
	}
	long long rate = argc == 9 ? atoll(argv[8]) : 0;
	unsigned char mac[ETH_ALEN], dst[16];
	unsigned char frame[128];
	int family = strchr(argv[4], ':') ? AF_INET6 : AF_INET;
	unsigned int ifindex = if_nametoindex(argv[2]);
	long long frames = atoll(argv[6]);
	cpu_set_t cpus;

	if (!ifindex)
		return fail(argv[2]);
	if (parse_mac(argv[3], mac) || inet_pton(family, argv[4], dst) != 1 || frames <= 0 ||
	    frames > 0xffffffffLL) {
		fprintf(stderr, "trafficgen: bad DST_MAC, DST_IP or FRAMES\n");
		return 2;
	}
	CPU_ZERO(&cpus);
	CPU_SET(atoi(argv[7]), &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		return fail("sched_setaffinity");
	/*
	 * The peer's NAPI poll runs in softirq on this CPU; when softirqs run long the kernel defers them to
	 * ksoftirqd, which then competes with this process for the CPU while frames pile up in the veth's
	 * 256-slot ring and overflow. At the lowest priority the generator runs only when the receiver has
	 * drained what it sent, so no frame is lost and the time per frame is the receiver's pace.
	 */
	if (setpriority(PRIO_PROCESS, 0, 19))
		return fail("setpriority");

	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj))
		return fail(argv[1]);
	int prog = bpf_program__fd(bpf_object__find_program_by_name(obj, "xdp_trafficgen"));
	int sources = bpf_object__find_map_fd_by_name(obj, "sources");
	int config = bpf_object__find_map_fd_by_name(obj, "config");

	FILE *list = fopen(argv[5], "r");
	if (!list)
		return fail(argv[5]);
	char line[128];
	__u32 count = 0;
	while (fgets(line, sizeof(line), list)) {
		unsigned char addr[16] = { 0 };
		line[strcspn(line, "\r\n")] = 0;
		if (!*line)
			continue;
		if (inet_pton(family, line, addr) != 1) {
			fprintf(stderr, "trafficgen: %s is not an address of the destination's family\n", line);
			return 2;
		}
		if (bpf_map_update_elem(sources, &count, addr, BPF_ANY))
			return fail("sources");
		count++;
	}
	fclose(list);
	if (!count) {
		fprintf(stderr, "trafficgen: no sources\n");
		return 2;
	}
	__u32 zero = 0;
	struct gen_config cfg = { .ifindex = ifindex, .count = count };
	if (bpf_map_update_elem(config, &zero, &cfg, BPF_ANY))
		return fail("config");

	size_t size = build_frame(frame, mac, family, dst);
	/* A slice is 10 ms of frames at RATE, or all of them at once. */
	long long slice = rate > 0 ? (rate / 100 > 64 ? rate / 100 : 64) : frames;
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (long long sent = 0; sent < frames;) {
		long long n = frames - sent < slice ? frames - sent : slice;
		LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = frame, .data_size_in = size,
			    .repeat = (__u32)n, .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
		if (bpf_prog_test_run_opts(prog, &run))
			return fail("BPF_PROG_RUN");
		sent += n;
		if (rate > 0) {
			/* Sleep until the moment `sent` frames are due. */
			double due = (double)sent / (double)rate;
			struct timespec until = { .tv_sec = start.tv_sec + (time_t)due,
						  .tv_nsec = start.tv_nsec + (long)((due - (long)due) * 1e9) };
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
		}
	}
	struct timespec end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	printf("{\"frames\":%lld,\"seconds\":%.9f}\n", frames,
	       (double)(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9);
	bpf_object__close(obj);
	return 0;
}
