/* xdp_loader.c - loading, attaching and reading mamori's XDP program. */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <net/if.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "mamori_xdp.skel.h"
#include "xdp_loader.h"

#define SOURCE_BATCH 1024   /* sources read from the LRU map per system call */

struct xdp_loader {
    char ifname[IF_NAMESIZE];
    int ifindex;
    struct mamori_xdp *skel;
    __u32 attach_flags;          /* the mode flag it is attached with, 0 = not attached */
    int n_cpus;
    struct mamori_xdp_count *percpu;   /* n_cpus values, for reading counts */
    struct mamori_xdp_src src_keys[SOURCE_BATCH];     /* for walking sources */
    struct mamori_xdp_rate src_rates[SOURCE_BATCH];
};

const char *xdp_loader_mode_name(enum xdp_loader_mode mode)
{
    return mode == XDP_LOADER_NATIVE ? "native" : "generic";
}

/* libbpf's warnings (a verifier log, a missing kernel feature) explain a
 * failed load; its info and debug chatter is of no use to an operator. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    if (level != LIBBPF_WARN)
        return 0;
    fputs("mamori: ", stderr);   /* libbpf starts its lines with "libbpf: " */
    return vfprintf(stderr, fmt, ap);
}

/* ---- a program left attached by an earlier run --------------------------- */

/* The pid in the program's owner map, 0 if it has none. */
static __u32 program_owner(int prog_fd)
{
    struct bpf_prog_info info;
    __u32 len = sizeof(info), ids[8], pid = 0;

    memset(&info, 0, sizeof(info));
    info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
    info.map_ids = (__u64)(unsigned long)ids;
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
        return 0;
    for (__u32 i = 0; i < info.nr_map_ids && i < sizeof(ids) / sizeof(ids[0]); i++) {
        struct bpf_map_info minfo;
        __u32 mlen = sizeof(minfo), key = 0;
        int fd = bpf_map_get_fd_by_id(ids[i]);

        if (fd < 0)
            continue;
        memset(&minfo, 0, sizeof(minfo));
        if (bpf_obj_get_info_by_fd(fd, &minfo, &mlen) == 0 &&
            strcmp(minfo.name, "mamori_owner") == 0)
            bpf_map_lookup_elem(fd, &key, &pid);
        close(fd);
    }
    return pid;
}

/* True if pid is a running mamori. A recycled pid (another program) does
 * not count. Pids of another pid namespace cannot be told apart here. */
static bool mamori_running(__u32 pid)
{
    char path[64], comm[32] = "";
    FILE *f;

    if (pid == 0 || pid == (__u32)getpid() || (kill((pid_t)pid, 0) != 0 && errno != EPERM))
        return false;
    snprintf(path, sizeof(path), "/proc/%u/comm", pid);
    if ((f = fopen(path, "r")) == NULL)
        return false;
    if (fgets(comm, sizeof(comm), f) == NULL)
        comm[0] = '\0';
    fclose(f);
    return strncmp(comm, "mamori", 6) == 0;
}

/* Detach the program `id` attached in mode `flag` if it is a mamori
 * program whose process is gone; refuse to touch anything else. */
static int clear_attached(const struct xdp_loader *l, __u32 id, __u32 flag, const char *mode,
                          char *err, size_t errlen)
{
    struct bpf_prog_info info;
    __u32 len = sizeof(info);
    int fd = bpf_prog_get_fd_by_id(id), rc = -1;

    if (fd < 0) {
        snprintf(err, errlen, "%s: XDP program %u attached in %s mode: %s",
                 l->ifname, id, mode, strerror(errno));
        return -1;
    }
    memset(&info, 0, sizeof(info));
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) {
        snprintf(err, errlen, "%s: XDP program %u: %s", l->ifname, id, strerror(errno));
        goto out;
    }
    if (strcmp(info.name, MAMORI_XDP_PROG_NAME) != 0) {
        snprintf(err, errlen, "%s: another XDP program ('%s', id %u) is attached in %s mode; "
                 "mamori does not replace it (remove it with: ip link set dev %s xdp off)",
                 l->ifname, info.name, id, mode, l->ifname);
        goto out;
    }
    __u32 owner = program_owner(fd);
    if (mamori_running(owner)) {
        snprintf(err, errlen, "%s: mamori (pid %u) is capturing on it already", l->ifname, owner);
        goto out;
    }
    LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = fd);
    if ((rc = bpf_xdp_detach(l->ifindex, flag, &opts)) != 0) {
        snprintf(err, errlen, "%s: detaching stale XDP program %u (%s mode): %s",
                 l->ifname, id, mode, strerror(-rc));
        rc = -1;
        goto out;
    }
    char who[32] = "";
    if (owner != 0)
        snprintf(who, sizeof(who), " (pid %u)", owner);
    fprintf(stderr, "mamori: %s: detached XDP program %u (%s mode) left attached by a mamori%s "
            "that ended without cleaning up\n", l->ifname, id, mode, who);
out:
    close(fd);
    return rc;
}

static int clear_stale(const struct xdp_loader *l, char *err, size_t errlen)
{
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    int rc = bpf_xdp_query(l->ifindex, 0, &q);

    if (rc != 0) {
        snprintf(err, errlen, "%s: querying its XDP programs: %s", l->ifname, strerror(-rc));
        return -1;
    }
    if (q.drv_prog_id && clear_attached(l, q.drv_prog_id, XDP_FLAGS_DRV_MODE, "native", err, errlen) < 0)
        return -1;
    if (q.skb_prog_id && clear_attached(l, q.skb_prog_id, XDP_FLAGS_SKB_MODE, "generic", err, errlen) < 0)
        return -1;
    if (q.hw_prog_id) {
        snprintf(err, errlen, "%s: an offloaded XDP program (id %u) is attached; "
                 "mamori does not replace it", l->ifname, q.hw_prog_id);
        return -1;
    }
    return 0;
}

/* ---- open, attach, close ------------------------------------------------- */

static int load_program(struct xdp_loader *l, unsigned n_queues, char *err, size_t errlen)
{
    __u32 key = 0, pid = (__u32)getpid();
    int rc;

    if ((l->skel = mamori_xdp__open()) == NULL) {
        snprintf(err, errlen, "%s: opening the XDP program: %s", l->ifname, strerror(errno));
        return -1;
    }
    rc = bpf_map__set_max_entries(l->skel->maps.xsks, n_queues ? n_queues : 1);
    if (rc == 0)
        rc = mamori_xdp__load(l->skel);
    if (rc != 0) {
        snprintf(err, errlen, "%s: loading the XDP program: %s%s", l->ifname, strerror(-rc),
                 rc == -EPERM ? " (needs root, or CAP_BPF and CAP_NET_ADMIN)" : "");
        return -1;
    }
    if (bpf_map__update_elem(l->skel->maps.mamori_owner, &key, sizeof(key), &pid,
                             sizeof(pid), BPF_ANY) != 0) {
        snprintf(err, errlen, "%s: writing the XDP program's owner: %s", l->ifname, strerror(errno));
        return -1;
    }
    return 0;
}

struct xdp_loader *xdp_loader_open(const char *ifname, unsigned n_queues,
                                   char *err, size_t errlen)
{
    struct xdp_loader *l = calloc(1, sizeof(*l));

    libbpf_set_print(libbpf_print);
    if (l == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(l->ifname, sizeof(l->ifname), "%s", ifname);
    if ((l->ifindex = (int)if_nametoindex(ifname)) == 0) {
        snprintf(err, errlen, "%s: %s", ifname, strerror(errno));
        goto fail;
    }
    l->n_cpus = libbpf_num_possible_cpus();
    if (l->n_cpus <= 0 || (l->percpu = calloc((size_t)l->n_cpus, sizeof(*l->percpu))) == NULL) {
        snprintf(err, errlen, "counting CPUs: %s", l->n_cpus < 0 ? strerror(-l->n_cpus) : "out of memory");
        goto fail;
    }
    if (clear_stale(l, err, errlen) < 0 || load_program(l, n_queues, err, errlen) < 0)
        goto fail;
    return l;
fail:
    xdp_loader_close(l);
    return NULL;
}

int xdp_loader_attach(struct xdp_loader *l, enum xdp_loader_mode mode, char *err, size_t errlen)
{
    __u32 flag = mode == XDP_LOADER_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
    int fd = bpf_program__fd(l->skel->progs.mamori_xdp);
    /* UPDATE_IF_NOEXIST: never replace a program attached in between. */
    int rc = bpf_xdp_attach(l->ifindex, fd, flag | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);

    if (rc != 0) {
        snprintf(err, errlen, "%s: attaching the XDP program in %s mode: %s", l->ifname,
                 xdp_loader_mode_name(mode), strerror(-rc));
        return -1;
    }
    l->attach_flags = flag;
    return 0;
}

int xdp_loader_add_socket(struct xdp_loader *l, unsigned queue, int fd, char *err, size_t errlen)
{
    __u32 key = queue, value = (__u32)fd;

    if (bpf_map__update_elem(l->skel->maps.xsks, &key, sizeof(key), &value, sizeof(value),
                             BPF_ANY) != 0) {
        snprintf(err, errlen, "%s: queue %u: adding the AF_XDP socket to the XSKMAP: %s",
                 l->ifname, queue, strerror(errno));
        return -1;
    }
    return 0;
}

void xdp_loader_remove_socket(struct xdp_loader *l, unsigned queue)
{
    __u32 key = queue;

    bpf_map__delete_elem(l->skel->maps.xsks, &key, sizeof(key), 0);
}

void xdp_loader_close(struct xdp_loader *l)
{
    if (l == NULL)
        return;
    if (l->attach_flags) {
        LIBBPF_OPTS(bpf_xdp_attach_opts, opts,
                    .old_prog_fd = bpf_program__fd(l->skel->progs.mamori_xdp));
        int rc = bpf_xdp_detach(l->ifindex, l->attach_flags, &opts);
        if (rc != 0)
            fprintf(stderr, "mamori: %s: detaching the XDP program: %s\n", l->ifname, strerror(-rc));
    }
    mamori_xdp__destroy(l->skel);
    free(l->percpu);
    free(l);
}

/* ---- reading the maps ----------------------------------------------------- */

void xdp_loader_counts(struct xdp_loader *l, struct mamori_xdp_count out[MAMORI_XDP_SLOTS])
{
    size_t size = (size_t)l->n_cpus * sizeof(*l->percpu);

    for (__u32 slot = 0; slot < MAMORI_XDP_SLOTS; slot++) {
        out[slot].pkts = out[slot].bytes = 0;
        if (bpf_map__lookup_elem(l->skel->maps.counts, &slot, sizeof(slot), l->percpu, size, 0) != 0)
            continue;
        for (int c = 0; c < l->n_cpus; c++) {
            out[slot].pkts += l->percpu[c].pkts;
            out[slot].bytes += l->percpu[c].bytes;
        }
    }
}

/* The rate of the last complete second, 0 if the source was quiet then. */
static void source_rate(const struct mamori_xdp_rate *r, __u64 now, __u64 *pps, __u64 *bps)
{
    *pps = *bps = 0;
    if (r->second == now) {
        *pps = r->last_pkts;
        *bps = r->last_bytes;
    } else if (r->second + 1 == now) {
        *pps = r->pkts;
        *bps = r->bytes;
    }
}

void xdp_loader_sources(struct xdp_loader *l, struct xdp_source_summary *out)
{
    struct mamori_xdp_src *keys = l->src_keys;
    struct mamori_xdp_rate *rates = l->src_rates;
    struct timespec ts;
    __u32 token = 0;
    bool first = true;
    int fd = bpf_map__fd(l->skel->maps.sources);

    memset(out, 0, sizeof(*out));
    clock_gettime(CLOCK_MONOTONIC, &ts);   /* bpf_ktime_get_ns()'s clock */
    for (;;) {
        __u32 n = SOURCE_BATCH;
        int rc = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, keys, rates, &n, NULL);
        first = false;
        for (__u32 i = 0; i < n; i++) {
            __u64 pps, bps;
            source_rate(&rates[i], (__u64)ts.tv_sec, &pps, &bps);
            out->tracked++;
            if (pps > out->top_pps) {
                out->top_pps = pps;
                out->top_bps = bps;
                memcpy(out->top_addr, keys[i].addr, sizeof(out->top_addr));
            }
        }
        if (rc != 0)         /* ENOENT: the walk is complete; others: give up */
            break;
    }
}
