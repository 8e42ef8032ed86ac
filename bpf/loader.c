// SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0)
/*
 * calico-xdp-loader: what bpftool cannot do for the XdpProgram provider.
 *
 * - XDP through a pinned bpf_link (BPF_LINK_CREATE), so a netlink detach or replace (Felix's XDP wipe,
 *   `ip link set dev X xdp off`) fails with EBUSY and the filter stays; programs are swapped with
 *   BPF_LINK_UPDATE against the expected old program, so a swap is atomic and never overwrites a
 *   program someone else put there.
 * - Two-generation map updates (see xdp_policy_shared.h): the desired contents are written into one
 *   generation (only what differs from what it holds), `active_gen` is flipped, and an RCU grace period
 *   (membarrier) passes before the other generation is touched, so no packet is ever decided by a mix
 *   of old and new entries.
 * - Dumps of one generation, and BPF_PROG_RUN sampling of a program's verdicts.
 *
 * Statically linked against libbpf so it can be copied to a node as it is. Prints JSON on stdout;
 * errors are one line on stderr. Exit codes: 1 error, 2 usage, 3 the interface already runs a program
 * (EBUSY/EEXIST), 4 the link no longer runs the expected program.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/membarrier.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "xdp_policy_shared.h"

#define EXIT_ERROR 1
#define EXIT_USAGE 2
#define EXIT_BUSY 3
#define EXIT_STALE 4
#define MAX_KEY 64
#define MAX_VALUE 1024
#define MAX_MAPS_IN_IMAGE 32
/* What the kernel returns for a map without batch operations (not in userspace's errno.h). */
#define KERNEL_ENOTSUPP 524

static void die(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("calico-xdp-loader: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(code);
}

/* libbpf returns -errno; the rest of the API sets errno. */
static const char *err_text(int err)
{
	return strerror(err < 0 ? -err : err);
}

/* The fault-injection hook of the provider's crash tests: the provider and this process die here. */
static void fault_point(const char *step)
{
	const char *want = getenv("CALICO_XDP_FAULT");
	if (want && strcmp(want, step) == 0) {
		kill(getppid(), SIGKILL);
		raise(SIGKILL);
	}
}

static int obj_get(const char *path)
{
	int fd = bpf_obj_get(path);
	if (fd < 0)
		die(EXIT_ERROR, "cannot open pinned object %s: %s", path, err_text(errno));
	return fd;
}

/* Enters a network namespace under /run/netns for the interface lookup and the attach; the mount
 * namespace (and with it the host's bpffs) stays ours. */
static void enter_netns(const char *name)
{
	if (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		die(EXIT_USAGE, "bad network namespace name %s", name);
	char path[512];
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(EXIT_ERROR, "cannot open network namespace %s: %s", path, strerror(errno));
	if (setns(fd, CLONE_NEWNET))
		die(EXIT_ERROR, "cannot enter network namespace %s: %s", name, strerror(errno));
	close(fd);
}

static unsigned int iface_index(const char *iface)
{
	unsigned int index = if_nametoindex(iface);
	if (!index)
		die(EXIT_ERROR, "interface %s: %s", iface, strerror(errno));
	return index;
}

struct link_state {
	__u32 id;
	__u32 prog_id;
	__u32 ifindex; /* 0 once the interface is gone */
};

static struct link_state link_state(int fd)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		die(EXIT_ERROR, "cannot read link info: %s", strerror(errno));
	return (struct link_state){.id = info.id, .prog_id = info.prog_id, .ifindex = info.xdp.ifindex};
}

static __u32 prog_id(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		die(EXIT_ERROR, "cannot read program info: %s", strerror(errno));
	return info.id;
}

static void print_link(struct link_state s, const char *mode)
{
	printf("{\"linkId\":%u,\"progId\":%u,\"ifindex\":%u", s.id, s.prog_id, s.ifindex);
	if (mode)
		printf(",\"mode\":\"%s\"", mode);
	printf("}\n");
}

/* attach [--netns NS] IFACE PROG_PIN LINK_PIN native|generic|auto */
static int cmd_attach(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[0], "--netns")) {
		enter_netns(argv[1]);
		argc -= 2;
		argv += 2;
	}
	if (argc != 4)
		die(EXIT_USAGE, "usage: attach [--netns NS] IFACE PROG_PIN LINK_PIN native|generic|auto");
	const char *mode = argv[3];
	if (strcmp(mode, "native") && strcmp(mode, "generic") && strcmp(mode, "auto"))
		die(EXIT_USAGE, "mode must be native, generic or auto, not %s", mode);
	unsigned int ifindex = iface_index(argv[0]);
	int prog = obj_get(argv[1]);
	int fd = -1;
	const char *used = "native";
	if (strcmp(mode, "generic")) {
		LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = XDP_FLAGS_DRV_MODE);
		fd = bpf_link_create(prog, ifindex, BPF_XDP, &opts);
		/* Only a driver without native XDP falls back; a busy interface is an answer, not a reason. */
		if (fd < 0 && (!strcmp(mode, "native") || (errno != EOPNOTSUPP && errno != EINVAL)))
			goto failed;
	}
	if (fd < 0) {
		LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = XDP_FLAGS_SKB_MODE);
		used = "generic";
		fd = bpf_link_create(prog, ifindex, BPF_XDP, &opts);
		if (fd < 0)
			goto failed;
	}
	fault_point("after-attach");
	if (bpf_obj_pin(fd, argv[2]))
		die(EXIT_ERROR, "cannot pin the link at %s: %s", argv[2], strerror(errno));
	print_link(link_state(fd), used);
	return 0;
failed:
	if (errno == EBUSY || errno == EEXIST)
		die(EXIT_BUSY, "%s already runs an XDP program (%s)", argv[0], strerror(errno));
	die(EXIT_ERROR, "cannot attach to %s in %s mode: %s", argv[0], used, strerror(errno));
	return 1;
}

/* update LINK_PIN PROG_PIN EXPECTED_PROG_ID: atomic swap, refused when the link runs another program */
static int cmd_update(int argc, char **argv)
{
	if (argc != 3)
		die(EXIT_USAGE, "usage: update LINK_PIN PROG_PIN EXPECTED_PROG_ID");
	int link = obj_get(argv[0]);
	int prog = obj_get(argv[1]);
	int old = bpf_prog_get_fd_by_id((__u32)strtoul(argv[2], NULL, 10));
	if (old < 0)
		die(EXIT_STALE, "program %s is gone: %s", argv[2], strerror(errno));
	LIBBPF_OPTS(bpf_link_update_opts, opts, .flags = BPF_F_REPLACE, .old_prog_fd = old);
	if (bpf_link_update(link, prog, &opts)) {
		if (errno == EPERM)
			die(EXIT_STALE, "the link no longer runs program %s", argv[2]);
		die(EXIT_ERROR, "cannot update the link: %s", strerror(errno));
	}
	print_link(link_state(link), NULL);
	return 0;
}

/* detach LINK_PIN: detaches even while others hold the link, then unpins; a missing pin is done */
static int cmd_detach(int argc, char **argv)
{
	if (argc != 1)
		die(EXIT_USAGE, "usage: detach LINK_PIN");
	int fd = bpf_obj_get(argv[0]);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		die(EXIT_ERROR, "cannot open pinned link %s: %s", argv[0], strerror(errno));
	}
	/* A link whose interface is gone is already detached (EINVAL/ENOLINK). */
	if (bpf_link_detach(fd) && errno != EINVAL && errno != ENOLINK)
		die(EXIT_ERROR, "cannot detach the link %s: %s", argv[0], strerror(errno));
	if (unlink(argv[0]) && errno != ENOENT)
		die(EXIT_ERROR, "cannot unpin %s: %s", argv[0], strerror(errno));
	return 0;
}

/* link LINK_PIN */
static int cmd_link(int argc, char **argv)
{
	if (argc != 1)
		die(EXIT_USAGE, "usage: link LINK_PIN");
	print_link(link_state(obj_get(argv[0])), NULL);
	return 0;
}

/* clear [--netns NS] IFACE: removes whatever XDP program is attached, by netlink or by link (takeOver) */
static int cmd_clear(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[0], "--netns")) {
		enter_netns(argv[1]);
		argc -= 2;
		argv += 2;
	}
	if (argc != 1)
		die(EXIT_USAGE, "usage: clear [--netns NS] IFACE");
	unsigned int ifindex = iface_index(argv[0]);
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	if (bpf_xdp_query(ifindex, 0, &q))
		die(EXIT_ERROR, "cannot query XDP on %s: %s", argv[0], strerror(errno));
	const struct {
		__u32 prog;
		__u32 flags;
	} modes[] = {{q.drv_prog_id, XDP_FLAGS_DRV_MODE}, {q.skb_prog_id, XDP_FLAGS_SKB_MODE}, {q.hw_prog_id, XDP_FLAGS_HW_MODE}};
	for (unsigned int i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (!modes[i].prog || !bpf_xdp_detach(ifindex, modes[i].flags, NULL))
			continue;
		if (errno != EBUSY)
			die(EXIT_ERROR, "cannot detach program %u from %s: %s", modes[i].prog, argv[0], strerror(errno));
		/* Attached through a link: find it by program and interface, and detach it. */
		__u32 id = 0;
		int done = 0;
		while (!done && !bpf_link_get_next_id(id, &id)) {
			int fd = bpf_link_get_fd_by_id(id);
			if (fd < 0)
				continue;
			struct link_state s = link_state(fd);
			if (s.prog_id == modes[i].prog && s.ifindex == ifindex) {
				if (bpf_link_detach(fd))
					die(EXIT_ERROR, "cannot detach link %u: %s", id, strerror(errno));
				done = 1;
			}
			close(fd);
		}
		if (!done)
			die(EXIT_ERROR, "program %u on %s is held by a link that cannot be found", modes[i].prog, argv[0]);
	}
	return 0;
}

/* --- Generations ----------------------------------------------------------------------------- */

struct pinned_map {
	char name[BPF_OBJ_NAME_LEN];
	int fd;
	struct bpf_map_info info;
};

static struct pinned_map open_map(const char *dir, const char *name)
{
	struct pinned_map m = {};
	char path[1024];
	if (strlen(name) >= sizeof(m.name))
		die(EXIT_USAGE, "bad map name %s", name);
	snprintf(m.name, sizeof(m.name), "%s", name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	m.fd = obj_get(path);
	__u32 len = sizeof(m.info);
	if (bpf_obj_get_info_by_fd(m.fd, &m.info, &len))
		die(EXIT_ERROR, "cannot read map info of %s: %s", path, strerror(errno));
	if (m.info.key_size > MAX_KEY || m.info.value_size > MAX_VALUE)
		die(EXIT_ERROR, "map %s has a key or value larger than the loader handles", name);
	return m;
}

/* Puts generation `gen` into a generation-0 key (for an array, the index within a generation), as
 * xdp_policy_shared.h lays keys out. */
static void set_gen(const struct pinned_map *m, __u8 *key, __u32 gen)
{
	switch (m->info.type) {
	case BPF_MAP_TYPE_HASH:
		memcpy(key, &gen, sizeof(gen));
		break;
	case BPF_MAP_TYPE_LPM_TRIE:
		memcpy(key + sizeof(__u32), &gen, sizeof(gen));
		break;
	case BPF_MAP_TYPE_ARRAY: {
		__u32 index;
		memcpy(&index, key, sizeof(index));
		index = index * GENERATIONS + gen;
		memcpy(key, &index, sizeof(index));
		break;
	}
	default:
		die(EXIT_ERROR, "map %s (type %u) has no generations", m->name, m->info.type);
	}
}

static __u32 key_gen(const struct pinned_map *m, const __u8 *key)
{
	__u32 v;
	switch (m->info.type) {
	case BPF_MAP_TYPE_HASH:
		memcpy(&v, key, sizeof(v));
		return v;
	case BPF_MAP_TYPE_LPM_TRIE:
		memcpy(&v, key + sizeof(__u32), sizeof(v));
		return v;
	default:
		memcpy(&v, key, sizeof(v));
		return v % GENERATIONS;
	}
}

static void write_u32(const char *dir, const char *map, __u32 key, const void *value)
{
	struct pinned_map m = open_map(dir, map);
	if (bpf_map_update_elem(m.fd, &key, value, BPF_ANY))
		die(EXIT_ERROR, "cannot write %s[%u]: %s", map, key, strerror(errno));
	close(m.fd);
}

/* Waits until no program run that may have read the old active generation is still running: XDP
 * runs inside RCU read-side sections, and MEMBARRIER_CMD_GLOBAL is synchronize_rcu(). */
static void grace_period(void)
{
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0)
		return;
	/* nohz_full kernels refuse it; a program run lasts microseconds. */
	struct timespec t = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};
	nanosleep(&t, NULL);
}

/* Prints `"maxEntries":{name:N,...}` for every map pinned in `dir`. */
static void print_max_entries(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		die(EXIT_ERROR, "cannot list %s: %s", dir, strerror(errno));
	printf("\"maxEntries\":{");
	int first = 1;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "prog"))
			continue;
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		int fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.type) {
			printf("%s\"%s\":%u", first ? "" : ",", e->d_name, info.max_entries);
			first = 0;
		}
		close(fd);
	}
	closedir(d);
	printf("}");
}

/* gens DIR: the active generation, each generation's commit record (hex), and the maps' capacities */
static int cmd_gens(int argc, char **argv)
{
	if (argc != 1)
		die(EXIT_USAGE, "usage: gens DIR");
	struct pinned_map active = open_map(argv[0], "active_gen");
	struct pinned_map digests = open_map(argv[0], "gen_digest");
	__u32 zero = 0, gen = 0;
	if (bpf_map_lookup_elem(active.fd, &zero, &gen))
		die(EXIT_ERROR, "cannot read active_gen: %s", strerror(errno));
	printf("{\"active\":%u,\"digests\":[", gen);
	for (__u32 g = 0; g < GENERATIONS; g++) {
		struct gen_digest d = {};
		if (bpf_map_lookup_elem(digests.fd, &g, &d))
			die(EXIT_ERROR, "cannot read gen_digest: %s", strerror(errno));
		printf("%s\"", g ? "," : "");
		for (unsigned int i = 0; i < sizeof(d.sha256); i++)
			printf("%02x", d.sha256[i]);
		printf("\"");
	}
	printf("],");
	print_max_entries(argv[0]);
	printf("}\n");
	return 0;
}

/* libbpf's warnings (the verifier's log among them) go to stderr while loading. */
static int print_warnings(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return level == LIBBPF_DEBUG ? 0 : vfprintf(stderr, fmt, args);
}

/* load OBJ DIR SECTION [MAP=ENTRIES ...]: loads the XDP program of SECTION with those maps resized,
 * pins the maps in DIR by name and then the program at DIR/prog (so a program pin means all is there). */
static int cmd_load(int argc, char **argv)
{
	if (argc < 3)
		die(EXIT_USAGE, "usage: load OBJ DIR SECTION [MAP=ENTRIES ...]");
	libbpf_set_print(print_warnings);
	/* Maps an object declares pinned by name (LIBBPF_PIN_BY_NAME, as xdp-tools' programs do) are pinned
	 * in DIR with the others, not at the bpffs root, where any program using the name would share them. */
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .pin_root_path = argv[1]);
	struct bpf_object *obj = bpf_object__open_file(argv[0], &open_opts);
	if (!obj)
		die(EXIT_ERROR, "cannot open %s: %s", argv[0], strerror(errno));
	for (int i = 3; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq)
			die(EXIT_USAGE, "bad map size %s (want MAP=ENTRIES)", argv[i]);
		*eq = 0;
		struct bpf_map *map = bpf_object__find_map_by_name(obj, argv[i]);
		if (!map)
			die(EXIT_USAGE, "the object has no map %s", argv[i]);
		if (bpf_map__set_max_entries(map, (__u32)strtoul(eq + 1, NULL, 10)))
			die(EXIT_ERROR, "cannot size map %s: %s", argv[i], strerror(errno));
	}
	struct bpf_program *prog = NULL, *p;
	bpf_object__for_each_program(p, obj)
	{
		if (!prog && !strcmp(bpf_program__section_name(p), argv[2])) {
			prog = p;
			bpf_program__set_type(p, BPF_PROG_TYPE_XDP);
		} else {
			bpf_program__set_autoload(p, false);
		}
	}
	if (!prog)
		die(EXIT_USAGE, "the object has no program in section %s", argv[2]);
	if (bpf_object__load(obj))
		die(EXIT_ERROR, "cannot load %s (the verifier's log is above): %s", argv[0], strerror(errno));
	if (bpf_object__pin_maps(obj, argv[1]))
		die(EXIT_ERROR, "cannot pin the maps in %s: %s", argv[1], strerror(errno));
	char path[1024];
	snprintf(path, sizeof(path), "%s/prog", argv[1]);
	if (bpf_program__pin(prog, path))
		die(EXIT_ERROR, "cannot pin the program at %s: %s", path, strerror(errno));
	printf("{\"progId\":%u}\n", prog_id(bpf_program__fd(prog)));
	return 0;
}

static int is_generational(const struct bpf_map_info *info)
{
	return info->type == BPF_MAP_TYPE_HASH || info->type == BPF_MAP_TYPE_LPM_TRIE ||
	       (info->type == BPF_MAP_TYPE_ARRAY && info->max_entries % GENERATIONS == 0 &&
		info->max_entries >= GENERATIONS);
}

/* --- Reading and writing one generation ----------------------------------------------------- */

/* Entries of one map as packed records (key, then value), keys with generation 0. */
struct records {
	__u32 key_size;
	__u32 value_size;
	size_t count;
	size_t cap;
	__u8 *data;
};

static size_t record_size(const struct records *r)
{
	return r->key_size + r->value_size;
}

static __u8 *record(const struct records *r, size_t i)
{
	return r->data + i * record_size(r);
}

static void push(struct records *r, const __u8 *key, const __u8 *value)
{
	if (r->count == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 1024;
		r->data = realloc(r->data, r->cap * record_size(r));
		if (!r->data)
			die(EXIT_ERROR, "out of memory");
	}
	memcpy(record(r, r->count), key, r->key_size);
	memcpy(record(r, r->count) + r->key_size, value, r->value_size);
	r->count++;
}

static __u32 sort_key_size;
static int by_key(const void *a, const void *b)
{
	return memcmp(a, b, sort_key_size);
}

/* Records sorted by key bytes: the order the TypeScript side writes and digests them in. */
static void sort_records(struct records *r)
{
	sort_key_size = r->key_size;
	qsort(r->data, r->count, record_size(r), by_key);
}

static int all_zero(const __u8 *b, __u32 n)
{
	for (__u32 i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

/* Moves a key of generation `gen` to generation 0 (in place): set_gen's inverse. */
static void to_gen0(const struct pinned_map *m, __u8 *key, __u32 gen)
{
	if (m->info.type == BPF_MAP_TYPE_ARRAY) {
		__u32 index;
		memcpy(&index, key, sizeof(index));
		index /= GENERATIONS;
		memcpy(key, &index, sizeof(index));
	} else {
		set_gen(m, key, 0);
	}
}

/* Keeps an entry of generation `gen` read from a map (arrays: only when not all zero). */
static void keep(struct records *r, const struct pinned_map *m, const __u8 *key, const __u8 *value, __u32 gen)
{
	if (key_gen(m, key) != gen)
		return;
	if (m->info.type == BPF_MAP_TYPE_ARRAY && all_zero(value, m->info.value_size))
		return;
	__u8 normal[MAX_KEY];
	memcpy(normal, key, m->info.key_size);
	to_gen0(m, normal, gen);
	push(r, normal, value);
}

#define BATCH 8192

/* What generation `gen` of a map holds, sorted; array entries that are all zero are left out. Read in
 * batches (BPF_MAP_LOOKUP_BATCH), a syscall per 8,192 entries, else entry by entry. */
static struct records read_generation(const struct pinned_map *m, __u32 gen)
{
	struct records r = {.key_size = m->info.key_size, .value_size = m->info.value_size};
	__u8 *keys = malloc(BATCH * m->info.key_size), *values = malloc(BATCH * m->info.value_size);
	__u8 in[MAX_KEY], out[MAX_KEY];
	if (!keys || !values)
		die(EXIT_ERROR, "out of memory");
	int first = 1, batched = 1;
	for (;;) {
		__u32 count = BATCH;
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		int rc = bpf_map_lookup_batch(m->fd, first ? NULL : in, out, keys, values, &count, &opts);
		if (rc && errno != ENOENT) {
			if (first && (errno == EINVAL || errno == KERNEL_ENOTSUPP || errno == EOPNOTSUPP)) {
				batched = 0;
				break;
			}
			die(EXIT_ERROR, "cannot read %s: %s", m->name, strerror(errno));
		}
		for (__u32 i = 0; i < count; i++)
			keep(&r, m, keys + i * m->info.key_size, values + i * m->info.value_size, gen);
		if (rc)
			break; /* ENOENT: the last batch */
		memcpy(in, out, sizeof(in));
		first = 0;
	}
	if (!batched) {
		__u8 key[MAX_KEY], next[MAX_KEY], value[MAX_VALUE];
		void *prev = NULL;
		while (!bpf_map_get_next_key(m->fd, prev, next)) {
			memcpy(key, next, m->info.key_size);
			prev = key;
			if (bpf_map_lookup_elem(m->fd, key, value)) {
				if (errno == ENOENT)
					continue;
				die(EXIT_ERROR, "cannot read %s: %s", m->name, strerror(errno));
			}
			keep(&r, m, key, value, gen);
		}
	}
	free(keys);
	free(values);
	sort_records(&r);
	return r;
}

/* The changes that take `have` to `want` (both sorted): deletions and writes, as generation-0 records. */
struct changes {
	struct records writes;
	struct records deletes; /* values unused (zero, for arrays) */
};

static struct changes diff(const struct records *have, const struct records *want)
{
	struct changes c = {
		.writes = {.key_size = want->key_size, .value_size = want->value_size},
		.deletes = {.key_size = want->key_size, .value_size = want->value_size},
	};
	__u8 zero[MAX_VALUE] = {};
	size_t i = 0, j = 0;
	while (i < have->count || j < want->count) {
		int order = i == have->count	 ? 1
			    : j == want->count ? -1
					       : memcmp(record(have, i), record(want, j), want->key_size);
		if (order < 0) {
			push(&c.deletes, record(have, i), zero);
			i++;
		} else if (order > 0) {
			push(&c.writes, record(want, j), record(want, j) + want->key_size);
			j++;
		} else {
			if (memcmp(record(have, i) + have->key_size, record(want, j) + want->key_size, want->value_size))
				push(&c.writes, record(want, j), record(want, j) + want->key_size);
			i++;
			j++;
		}
	}
	return c;
}

/* Writes records (into generation `gen`) in batches where the map supports it, else one by one. */
static void apply_writes(const struct pinned_map *m, const struct records *r, __u32 gen)
{
	const size_t chunk = 4096;
	__u8 *keys = malloc(chunk * MAX_KEY), *values = malloc(chunk * MAX_VALUE);
	if (!keys || !values)
		die(EXIT_ERROR, "out of memory");
	int batch = 1;
	for (size_t at = 0; at < r->count; at += chunk) {
		size_t n = r->count - at < chunk ? r->count - at : chunk;
		for (size_t k = 0; k < n; k++) {
			memcpy(keys + k * r->key_size, record(r, at + k), r->key_size);
			set_gen(m, keys + k * r->key_size, gen);
			memcpy(values + k * r->value_size, record(r, at + k) + r->key_size, r->value_size);
		}
		if (batch) {
			__u32 count = (__u32)n;
			LIBBPF_OPTS(bpf_map_batch_opts, opts);
			if (!bpf_map_update_batch(m->fd, keys, values, &count, &opts))
				continue;
			batch = 0; /* not supported here: one by one from now on */
		}
		for (size_t k = 0; k < n; k++) {
			if (bpf_map_update_elem(m->fd, keys + k * r->key_size, values + k * r->value_size, BPF_ANY))
				die(EXIT_ERROR, "cannot write an entry of %s (generation %u): %s", m->name, gen, strerror(errno));
		}
	}
	free(keys);
	free(values);
}

static void apply_deletes(const struct pinned_map *m, const struct records *r, __u32 gen)
{
	if (m->info.type == BPF_MAP_TYPE_ARRAY) {
		/* An array entry cannot go: it is written as zeros (deletes carry zero values). */
		apply_writes(m, r, gen);
		return;
	}
	__u8 key[MAX_KEY];
	for (size_t k = 0; k < r->count; k++) {
		memcpy(key, record(r, k), r->key_size);
		set_gen(m, key, gen);
		if (bpf_map_delete_elem(m->fd, key) && errno != ENOENT)
			die(EXIT_ERROR, "cannot delete an entry of %s (generation %u): %s", m->name, gen, strerror(errno));
	}
}

/*
 * An image (stdin): "CXS1", the commit record (struct gen_digest), then per map 'M' u8 len, name, u32
 * key size, u32 value size (the map's own), u32 count, and count records (key, value), keys of
 * generation 0 (for arrays, indices within a generation). A dump is the same without the first two
 * fields.
 */
struct image_map {
	char name[BPF_OBJ_NAME_LEN];
	size_t count;
	const __u8 *data;
};

struct image {
	__u8 *bytes;
	size_t len;
	struct gen_digest digest;
	struct image_map maps[MAX_MAPS_IN_IMAGE];
	int nmaps;
};

static struct image read_image(void)
{
	struct image im = {};
	size_t cap = 1 << 20;
	im.bytes = malloc(cap);
	for (;;) {
		if (im.len == cap)
			im.bytes = realloc(im.bytes, cap *= 2);
		if (!im.bytes)
			die(EXIT_ERROR, "out of memory reading the image");
		ssize_t n = read(0, im.bytes + im.len, cap - im.len);
		if (n < 0)
			die(EXIT_ERROR, "cannot read the image: %s", strerror(errno));
		if (n == 0)
			break;
		im.len += (size_t)n;
	}
	if (im.len < 4 + sizeof(im.digest) || memcmp(im.bytes, "CXS1", 4))
		die(EXIT_USAGE, "the image does not start with CXS1 and a commit record");
	memcpy(&im.digest, im.bytes + 4, sizeof(im.digest));
	return im;
}

/* Splits the image into maps; record sizes are checked against the maps in `dir`. */
static void index_image(struct image *im, const char *dir)
{
	size_t at = 4 + sizeof(im->digest);
	while (at < im->len) {
		if (im->bytes[at] != 'M' || at + 2 > im->len)
			die(EXIT_USAGE, "bad record in the image at byte %zu", at);
		__u8 len = im->bytes[at + 1];
		struct image_map *m = &im->maps[im->nmaps];
		if (im->nmaps == MAX_MAPS_IN_IMAGE || len >= sizeof(m->name) || at + 2 + len + 12 > im->len)
			die(EXIT_USAGE, "bad map in the image");
		memcpy(m->name, im->bytes + at + 2, len);
		m->name[len] = 0;
		__u32 sizes[3];
		memcpy(sizes, im->bytes + at + 2 + len, sizeof(sizes));
		struct pinned_map pm = open_map(dir, m->name);
		if (sizes[0] != pm.info.key_size || sizes[1] != pm.info.value_size)
			die(EXIT_USAGE, "map %s has %u-byte keys and %u-byte values, the image %u and %u: another program?",
			    m->name, pm.info.key_size, pm.info.value_size, sizes[0], sizes[1]);
		close(pm.fd);
		m->count = sizes[2];
		m->data = im->bytes + at + 2 + len + 12;
		at += 2 + len + 12 + (size_t)sizes[2] * (sizes[0] + sizes[1]);
		if (at > im->len)
			die(EXIT_USAGE, "the image ends inside map %s", m->name);
		im->nmaps++;
	}
}

static int commit_matches(const char *dir, __u32 gen, const struct gen_digest *want)
{
	struct pinned_map digests = open_map(dir, "gen_digest");
	struct gen_digest have = {};
	if (bpf_map_lookup_elem(digests.fd, &gen, &have))
		die(EXIT_ERROR, "cannot read gen_digest: %s", strerror(errno));
	close(digests.fd);
	return !memcmp(&have, want, sizeof(have));
}

/*
 * Makes generation `gen` hold the image: reads what it holds, and writes only the difference. Its
 * commit record is cleared first and written last, so a crash in between leaves it marked incomplete.
 */
/* --- What a generation holds, remembered -------------------------------------------------------
 *
 * Reading a generation back from the kernel walks every LPM trie from its root once per entry (about
 * 2 s a million). So after committing one, the loader keeps the image it wrote in /run (tmpfs, gone
 * at reboot), named by the version directory and the commit record. Since the record is a digest of
 * the contents, a kept image whose record a generation carries is exactly what that generation holds:
 * the next change is diffed against it without reading the maps. --verify reads them anyway.
 */
#define IMAGES "/run/calico-xdp/images"

static void image_path(char *out, size_t size, const char *dir, const struct gen_digest *digest)
{
	__u64 h = 1469598103934665603ULL; /* FNV-1a of the directory */
	for (const char *c = dir; *c; c++)
		h = (h ^ (__u8)*c) * 1099511628211ULL;
	int n = snprintf(out, size, "%s/%016llx-", IMAGES, (unsigned long long)h);
	for (unsigned int i = 0; i < sizeof(digest->sha256) && n + 2 < (int)size; i++)
		n += snprintf(out + n, size - n, "%02x", digest->sha256[i]);
}

static void remember(const char *dir, const struct image *im)
{
	char path[512], partial[600];
	image_path(path, sizeof(path), dir, &im->digest);
	if (!access(path, F_OK))
		return;
	mkdir("/run/calico-xdp", 0700);
	mkdir(IMAGES, 0700);
	snprintf(partial, sizeof(partial), "%s.%d", path, getpid());
	FILE *f = fopen(partial, "wb");
	/* Not remembering only costs the next change a read of the maps. */
	if (!f)
		return;
	int ok = fwrite(im->bytes, 1, im->len, f) == im->len;
	ok = !fclose(f) && ok;
	if (!ok || rename(partial, path))
		unlink(partial);
}

/* The image generation `gen` holds, when its commit record names one that was remembered. */
static int recall(const char *dir, __u32 gen, struct image *out)
{
	struct pinned_map digests = open_map(dir, "gen_digest");
	struct gen_digest have = {}, none = {};
	int found = !bpf_map_lookup_elem(digests.fd, &gen, &have);
	close(digests.fd);
	if (!found || !memcmp(&have, &none, sizeof(have)))
		return 0;
	char path[512];
	image_path(path, sizeof(path), dir, &have);
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	struct image im = {};
	if (fseek(f, 0, SEEK_END) || (long)(im.len = (size_t)ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
	    !(im.bytes = malloc(im.len + 1)) || fread(im.bytes, 1, im.len, f) != im.len) {
		fclose(f);
		free(im.bytes);
		return 0;
	}
	fclose(f);
	if (im.len < 4 + sizeof(im.digest) || memcmp(im.bytes, "CXS1", 4) ||
	    memcmp(im.bytes + 4, &have, sizeof(have))) {
		free(im.bytes);
		return 0;
	}
	memcpy(&im.digest, &have, sizeof(have));
	index_image(&im, dir);
	*out = im;
	return 1;
}

/* Removes the remembered images of `dir` (forget DIR), or those no generation carries any more. */
static void prune(const char *dir, int all)
{
	char path[512], keep[GENERATIONS][512];
	struct gen_digest none = {};
	int kept = 0;
	if (!all) {
		struct pinned_map digests = open_map(dir, "gen_digest");
		for (__u32 g = 0; g < GENERATIONS; g++) {
			struct gen_digest d = {};
			if (!bpf_map_lookup_elem(digests.fd, &g, &d) && memcmp(&d, &none, sizeof(d)))
				image_path(keep[kept++], sizeof(keep[0]), dir, &d);
		}
		close(digests.fd);
	}
	image_path(path, sizeof(path), dir, &none);
	size_t prefix = strlen(path) - 2 * sizeof(none.sha256);
	DIR *d = opendir(IMAGES);
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		char full[600];
		snprintf(full, sizeof(full), "%s/%s", IMAGES, e->d_name);
		if (strncmp(full, path, prefix))
			continue;
		int wanted = 0;
		for (int k = 0; k < kept; k++)
			wanted |= !strcmp(full, keep[k]);
		if (!wanted)
			unlink(full);
	}
	closedir(d);
}

static int records_sorted(const struct records *r)
{
	for (size_t i = 1; i < r->count; i++)
		if (memcmp(record(r, i - 1), record(r, i), r->key_size) > 0)
			return 0;
	return 1;
}

/* A map's records in an image, sorted (images from the TypeScript side already are). */
static struct records image_records(const struct image_map *m, const struct pinned_map *pm)
{
	struct records r = {.key_size = pm->info.key_size, .value_size = pm->info.value_size, .count = m->count};
	r.data = malloc(m->count * record_size(&r) + 1);
	if (!r.data)
		die(EXIT_ERROR, "out of memory");
	memcpy(r.data, m->data, m->count * record_size(&r));
	if (!records_sorted(&r))
		sort_records(&r);
	return r;
}

static void write_generation(const char *dir, const struct image *im, __u32 gen, int trust, int *halfway)
{
	if (trust && commit_matches(dir, gen, &im->digest))
		return;
	struct image known = {};
	int recalled = trust && recall(dir, gen, &known);
	const struct gen_digest none = {};
	write_u32(dir, "gen_digest", gen, &none);
	struct pinned_map maps[MAX_MAPS_IN_IMAGE];
	struct changes changes[MAX_MAPS_IN_IMAGE];
	size_t total = 0;
	for (int i = 0; i < im->nmaps; i++) {
		maps[i] = open_map(dir, im->maps[i].name);
		if (!is_generational(&maps[i].info))
			die(EXIT_USAGE, "map %s has no generations", im->maps[i].name);
		const struct image_map *before = NULL;
		for (int k = 0; recalled && k < known.nmaps; k++)
			if (!strcmp(known.maps[k].name, im->maps[i].name))
				before = &known.maps[k];
		struct records have = before ? image_records(before, &maps[i]) : read_generation(&maps[i], gen);
		struct records want = image_records(&im->maps[i], &maps[i]);
		changes[i] = diff(&have, &want);
		total += changes[i].writes.count + changes[i].deletes.count;
		free(have.data);
		free(want.data);
	}
	free(known.bytes);
	size_t done = 0;
	for (int i = 0; i < im->nmaps; i++) {
		/* Deletions first: a trie full of stale prefixes is the larger one. */
		apply_deletes(&maps[i], &changes[i].deletes, gen);
		apply_writes(&maps[i], &changes[i].writes, gen);
		done += changes[i].writes.count + changes[i].deletes.count;
		if (!*halfway && total && done * 2 >= total) {
			*halfway = 1;
			fault_point("mid-map-update");
		}
		free(changes[i].writes.data);
		free(changes[i].deletes.data);
		close(maps[i].fd);
	}
	write_u32(dir, "gen_digest", gen, &im->digest);
	remember(dir, im);
}

/* sync DIR STEPS [--verify] < image: STEPS is a comma list of wG (make generation G hold the image),
 * aG (activate G), s (grace period), e.g. w1,a1,s,w0. A generation whose commit record is the image's
 * is left alone, unless --verify (someone may have written the maps behind the records' back). */
static int cmd_sync(int argc, char **argv)
{
	if (argc != 2 && !(argc == 3 && !strcmp(argv[2], "--verify")))
		die(EXIT_USAGE, "usage: sync DIR STEPS [--verify] < image");
	struct image im = read_image();
	index_image(&im, argv[0]);
	int trust = argc == 2;
	int halfway = 0;
	char *steps = strdup(argv[1]);
	for (char *save = NULL, *step = strtok_r(steps, ",", &save); step; step = strtok_r(NULL, ",", &save)) {
		__u32 gen = step[0] && step[1] ? (__u32)(step[1] - '0') : GENERATIONS;
		if (step[0] == 's' && !step[1]) {
			grace_period();
		} else if ((step[0] == 'w' || step[0] == 'a') && gen < GENERATIONS && !step[2]) {
			if (step[0] == 'w')
				write_generation(argv[0], &im, gen, trust, &halfway);
			else
				write_u32(argv[0], "active_gen", 0, &gen);
		} else {
			die(EXIT_USAGE, "bad step %s (want wG, aG or s)", step);
		}
	}
	prune(argv[0], 0);
	printf("{\"synced\":true}\n");
	return 0;
}

/* forget DIR: drops what is remembered of DIR's generations (its version is being removed) */
static int cmd_forget(int argc, char **argv)
{
	if (argc != 1)
		die(EXIT_USAGE, "usage: forget DIR");
	prune(argv[0], 1);
	return 0;
}

static void put(const void *data, size_t len)
{
	if (fwrite(data, 1, len, stdout) != len)
		die(EXIT_ERROR, "cannot write the dump: %s", strerror(errno));
}

/* dump DIR GEN MAP...: generation GEN of the named maps, in the image's format without its header,
 * records sorted by key */
static int cmd_dump(int argc, char **argv)
{
	if (argc < 3)
		die(EXIT_USAGE, "usage: dump DIR GEN MAP...");
	__u32 gen = (__u32)strtoul(argv[1], NULL, 10);
	if (gen >= GENERATIONS)
		die(EXIT_USAGE, "generation must be below %d", GENERATIONS);
	for (int i = 2; i < argc; i++) {
		struct pinned_map m = open_map(argv[0], argv[i]);
		if (!is_generational(&m.info))
			die(EXIT_USAGE, "map %s has no generations", argv[i]);
		struct records r = read_generation(&m, gen);
		__u8 len = (__u8)strlen(m.name);
		__u32 sizes[3] = {r.key_size, r.value_size, (__u32)r.count};
		put("M", 1);
		put(&len, 1);
		put(m.name, len);
		put(sizes, sizeof(sizes));
		put(r.data, r.count * record_size(&r));
		free(r.data);
		close(m.fd);
	}
	return fflush(stdout) ? EXIT_ERROR : 0;
}

/* run PROG_PIN|id:N FRAME_FILE COUNT: runs the program COUNT times, one BPF_PROG_RUN each, and counts
 * the return values (a sampler that sees every verdict, unlike one run with `repeat`). */
static int cmd_run(int argc, char **argv)
{
	if (argc != 3)
		die(EXIT_USAGE, "usage: run PROG_PIN|id:N FRAME_FILE COUNT");
	int prog = strncmp(argv[0], "id:", 3) ? obj_get(argv[0])
					      : bpf_prog_get_fd_by_id((__u32)strtoul(argv[0] + 3, NULL, 10));
	if (prog < 0)
		die(EXIT_ERROR, "cannot open program %s: %s", argv[0], strerror(errno));
	__u8 frame[4096];
	FILE *f = fopen(argv[1], "rb");
	if (!f)
		die(EXIT_ERROR, "cannot open %s: %s", argv[1], strerror(errno));
	size_t len = fread(frame, 1, sizeof(frame), f);
	fclose(f);
	unsigned long count = strtoul(argv[2], NULL, 10);
	unsigned long seen[8] = {};
	for (unsigned long i = 0; i < count; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (__u32)len, .repeat = 1);
		if (bpf_prog_test_run_opts(prog, &opts))
			die(EXIT_ERROR, "BPF_PROG_RUN failed: %s", strerror(errno));
		seen[opts.retval < 8 ? opts.retval : 7]++;
	}
	printf("{\"progId\":%u,\"retvals\":[", prog_id(prog));
	for (int i = 0; i < 8; i++)
		printf("%s%lu", i ? "," : "", seen[i]);
	printf("]}\n");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int, char **);
	} commands[] = {
		{"attach", cmd_attach}, {"update", cmd_update}, {"detach", cmd_detach}, {"link", cmd_link},
		{"clear", cmd_clear},	{"gens", cmd_gens},	{"sync", cmd_sync},	{"dump", cmd_dump},
		{"run", cmd_run},	{"load", cmd_load},	{"forget", cmd_forget},
	};
	libbpf_set_print(NULL);
	if (argc >= 2) {
		for (unsigned int i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if (!strcmp(argv[1], commands[i].name))
				return commands[i].run(argc - 2, argv + 2);
	}
	die(EXIT_USAGE, "usage: calico-xdp-loader load|attach|update|detach|link|clear|gens|sync|dump|run ...");
	return EXIT_USAGE;
}
