/* capture_afxdp.c - AF_XDP sockets feeding the workers, one thread per
 * worker (per queue, with the default worker count). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/if_xdp.h>
#include <linux/sockios.h>
#include <net/if.h>

#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include "capture_afxdp.h"
#include "counter.h"
#include "worker.h"
#include "xdp_loader.h"

/* One page per frame: any frame of a 1500-byte MTU fits, and the kernel's
 * copy mode accepts it on every driver. Larger frames would need the
 * multi-buffer socket option; they are dropped by the kernel and counted
 * (capture.drops, xsk.rx_dropped). */
#define FRAME_SIZE XSK_UMEM__DEFAULT_FRAME_SIZE
/* mamori never transmits, so the completion ring stays empty: the smallest
 * one does. */
#define COMP_RING_SIZE 64
/* An idle thread sleeps in poll() at most this long, to see a stop request. */
#define POLL_TIMEOUT_MS 100

struct afxdp_iface;

struct xsk_queue {                 /* one AF_XDP socket: one RX queue of one interface */
    struct afxdp_iface *iface;
    uint32_t queue_id;
    uint8_t *umem_area;
    size_t umem_size;
    struct xsk_umem *umem;
    struct xsk_socket *xsk;
    struct xsk_ring_prod fill;
    struct xsk_ring_cons comp;
    struct xsk_ring_cons rx;
    uint64_t *free_frames;         /* frames user space holds, bound for the fill ring */
    uint32_t n_free;
    bool zerocopy;
    uint64_t pkts, bytes, wakeups; /* written by the polling thread only */
};

struct afxdp_iface {
    char name[IF_NAMESIZE];
    uint16_t port;                 /* position in the -i list: packet.port */
    unsigned n_queues;
    enum xdp_loader_mode mode;
    struct xdp_loader *loader;
    struct xsk_queue *queues;
};

struct afxdp_lane {                /* one worker and the sockets it polls */
    struct afxdp_capture *owner;
    struct worker *worker;
    struct xsk_queue **queues;
    struct pollfd *fds;
    unsigned n_queues;
    pthread_t thread;
    bool thread_started;
    bool finished;
};

struct afxdp_capture {
    struct capture base;
    struct afxdp_iface *ifaces;
    unsigned n_ifaces;
    struct afxdp_lane *lanes;
    bool stop_requested;
};

static bool flag_get(const bool *flag)
{
    return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
}

static void flag_set(bool *flag)
{
    __atomic_store_n(flag, true, __ATOMIC_RELEASE);
}

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- polling thread ------------------------------------------------------- */

/* Hand the frames user space holds back to the kernel, as many as the fill
 * ring takes, in one reserve and one submit. */
static void queue_refill(struct xsk_queue *q)
{
    uint32_t idx, n = xsk_prod_nb_free(&q->fill, q->n_free);

    if (n > q->n_free)
        n = q->n_free;
    if (n == 0 || xsk_ring_prod__reserve(&q->fill, n, &idx) != n)
        return;
    for (uint32_t i = 0; i < n; i++)
        *xsk_ring_prod__fill_addr(&q->fill, idx + i) = q->free_frames[--q->n_free];
    xsk_ring_prod__submit(&q->fill, n);
    /* A zero-copy driver that ran out of buffers waits for a kick. */
    if (xsk_ring_prod__needs_wakeup(&q->fill)) {
        recvfrom(xsk_socket__fd(q->xsk), NULL, 0, MSG_DONTWAIT, NULL, NULL);
        counter_inc(&q->wakeups);
    }
}

/* One burst from one socket to the lane's worker. Returns its size. */
static unsigned queue_rx_burst(struct afxdp_lane *lane, struct xsk_queue *q)
{
    struct packet pkts[WORKER_BURST];
    uint32_t idx;
    uint64_t bytes = 0;
    unsigned n = xsk_ring_cons__peek(&q->rx, WORKER_BURST, &idx);

    if (n == 0)
        return 0;
    uint64_t now = wall_ns();
    for (unsigned i = 0; i < n; i++) {
        const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->rx, idx + i);
        pkts[i] = (struct packet){
            .data = xsk_umem__get_data(q->umem_area, d->addr),
            .caplen = d->len,
            .wirelen = d->len,
            .ts_ns = now,
            .link_type = LINK_ETHERNET,
            .port = q->iface->port,
        };
        /* The frame stays ours until it is back in the fill ring, which
         * happens after the worker is done with it. */
        q->free_frames[q->n_free++] = d->addr & ~(uint64_t)(FRAME_SIZE - 1);
        bytes += d->len;
    }
    xsk_ring_cons__release(&q->rx, n);
    worker_process_burst(lane->worker, pkts, n);
    queue_refill(q);
    counter_add(&q->pkts, n);
    counter_add(&q->bytes, bytes);
    return n;
}

static unsigned lane_poll_once(struct afxdp_lane *lane)
{
    unsigned got = 0;

    for (unsigned i = 0; i < lane->n_queues; i++)
        got += queue_rx_burst(lane, lane->queues[i]);
    return got;
}

/* Stop: take the lane's sockets out of the XSKMAP, so frames from now on
 * are passed (and counted so), then process what the RX rings still hold.
 * Every frame redirected before is then either received or dropped by the
 * kernel: capture.drops is exact. The pause lets frames redirected just
 * before the removal reach the ring (the kernel flushes redirects at the
 * end of a NAPI poll, microseconds later). */
static void lane_drain(struct afxdp_lane *lane)
{
    const struct timespec pause = { 0, 10 * 1000000 };

    for (unsigned i = 0; i < lane->n_queues; i++) {
        struct xsk_queue *q = lane->queues[i];
        xdp_loader_remove_socket(q->iface->loader, q->queue_id);
    }
    nanosleep(&pause, NULL);
    while (lane_poll_once(lane) > 0)
        ;
}

static void *afxdp_lane_main(void *arg)
{
    struct afxdp_lane *lane = arg;

    while (!flag_get(&lane->owner->stop_requested)) {
        /* Idle: sleep until a socket has frames. Under load the rings are
         * never empty and no system call is made here. */
        if (lane_poll_once(lane) == 0)
            poll(lane->fds, lane->n_queues, POLL_TIMEOUT_MS);
    }
    lane_drain(lane);
    worker_finish(lane->worker, 0);
    flag_set(&lane->finished);
    return NULL;
}

/* ---- capture ops ---------------------------------------------------------- */

static int afxdp_start(struct capture *c, char *err, size_t errlen)
{
    struct afxdp_capture *ac = (struct afxdp_capture *)c;

    for (unsigned i = 0; i < c->n_workers; i++) {
        struct afxdp_lane *lane = &ac->lanes[i];
        int rc = pthread_create(&lane->thread, NULL, afxdp_lane_main, lane);
        if (rc != 0) {
            snprintf(err, errlen, "starting AF_XDP worker thread %u: %s", i, strerror(rc));
            c->ops->stop(c);
            return -1;
        }
        lane->thread_started = true;
        char name[16];   /* the kernel keeps 15 characters */
        snprintf(name, sizeof(name), "mamori-xsk%u", i % 10000);
        pthread_setname_np(lane->thread, name);
    }
    return 0;
}

static bool afxdp_running(struct capture *c)
{
    struct afxdp_capture *ac = (struct afxdp_capture *)c;

    for (unsigned i = 0; i < c->n_workers; i++)
        if (ac->lanes[i].thread_started && !flag_get(&ac->lanes[i].finished))
            return true;
    return false;
}

static void afxdp_stop(struct capture *c)
{
    flag_set(&((struct afxdp_capture *)c)->stop_requested);
}

static void afxdp_join(struct capture *c)
{
    struct afxdp_capture *ac = (struct afxdp_capture *)c;

    for (unsigned i = 0; i < c->n_workers; i++) {
        if (ac->lanes[i].thread_started)
            pthread_join(ac->lanes[i].thread, NULL);
        ac->lanes[i].thread_started = false;
    }
}

struct afxdp_totals {
    uint64_t received, received_bytes, wakeups;
    struct xdp_statistics xsk;
};

/* The sockets' user-side counters and the kernel's XDP_STATISTICS. */
static void iface_socket_totals(const struct afxdp_iface *ifc, struct afxdp_totals *t)
{
    memset(t, 0, sizeof(*t));
    for (unsigned q = 0; q < ifc->n_queues; q++) {
        const struct xsk_queue *xq = &ifc->queues[q];
        struct xdp_statistics st;
        socklen_t len = sizeof(st);

        t->received += counter_read(&xq->pkts);
        t->received_bytes += counter_read(&xq->bytes);
        t->wakeups += counter_read(&xq->wakeups);
        if (getsockopt(xsk_socket__fd(xq->xsk), SOL_XDP, XDP_STATISTICS, &st, &len) != 0)
            continue;
        t->xsk.rx_dropped += st.rx_dropped;
        t->xsk.rx_invalid_descs += st.rx_invalid_descs;
        t->xsk.rx_ring_full += st.rx_ring_full;
        t->xsk.rx_fill_ring_empty_descs += st.rx_fill_ring_empty_descs;
    }
}

static const char *const slot_names[MAMORI_XDP_SLOTS] = {
    [MAMORI_XDP_TCP] = "tcp", [MAMORI_XDP_UDP] = "udp", [MAMORI_XDP_ICMP] = "icmp",
    [MAMORI_XDP_OTHER] = "other", [MAMORI_XDP_REDIRECTED] = "redirected",
    [MAMORI_XDP_PASSED] = "passed",
};

static void iface_counters(struct afxdp_iface *ifc, counter_fn fn, void *ctx)
{
    struct mamori_xdp_count k[MAMORI_XDP_SLOTS];
    struct afxdp_totals t;
    char name[IF_NAMESIZE + 64];
    uint64_t seen = 0, seen_bytes = 0;

    /* User side first: the kernel's count only grows meanwhile, so the
     * difference is never negative. */
    iface_socket_totals(ifc, &t);
    xdp_loader_counts(ifc->loader, k);
    for (unsigned s = 0; s < MAMORI_XDP_SLOTS; s++) {
        snprintf(name, sizeof(name), "xdp.%s_pkts", slot_names[s]);
        fn(ctx, name, k[s].pkts);
        snprintf(name, sizeof(name), "xdp.%s_bytes", slot_names[s]);
        fn(ctx, name, k[s].bytes);
        if (s <= MAMORI_XDP_OTHER) {
            seen += k[s].pkts;
            seen_bytes += k[s].bytes;
        }
    }
    uint64_t redirected = k[MAMORI_XDP_REDIRECTED].pkts;
    uint64_t drops = redirected > t.received ? redirected - t.received : 0;
    const struct { const char *what; uint64_t v; } items[] = {
        { "capture.pkts", t.received }, { "capture.bytes", t.received_bytes },
        { "capture.drops", drops }, { "capture.wakeups", t.wakeups },
        { "xdp.pkts", seen }, { "xdp.bytes", seen_bytes },
        { "xsk.rx_dropped", t.xsk.rx_dropped },
        { "xsk.rx_invalid_descs", t.xsk.rx_invalid_descs },
        { "xsk.rx_ring_full", t.xsk.rx_ring_full },
        { "xsk.fill_ring_empty", t.xsk.rx_fill_ring_empty_descs },
    };
    for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++)
        fn(ctx, items[i].what, items[i].v);
    snprintf(name, sizeof(name), "iface.%s.xdp_pkts", ifc->name);
    fn(ctx, name, seen);
    snprintf(name, sizeof(name), "iface.%s.received", ifc->name);
    fn(ctx, name, t.received);
    snprintf(name, sizeof(name), "iface.%s.drops", ifc->name);
    fn(ctx, name, drops);
}

static void afxdp_counters(struct capture *c, counter_fn fn, void *ctx)
{
    struct afxdp_capture *ac = (struct afxdp_capture *)c;
    struct xdp_source_summary top = { 0 };
    uint64_t tracked = 0;

    for (unsigned i = 0; i < ac->n_ifaces; i++) {
        struct xdp_source_summary s;
        iface_counters(&ac->ifaces[i], fn, ctx);
        xdp_loader_sources(ac->ifaces[i].loader, &s);
        tracked += s.tracked;
        if (s.top_pps > top.top_pps)
            top = s;
    }
    fn(ctx, "xdp.sources", tracked);
    fn(ctx, "xdp.top_source_pps", top.top_pps);
    fn(ctx, "xdp.top_source_bps", top.top_bps);
}

static uint64_t afxdp_packets(struct capture *c)
{
    struct afxdp_capture *ac = (struct afxdp_capture *)c;
    uint64_t total = 0;

    for (unsigned i = 0; i < ac->n_ifaces; i++)
        for (unsigned q = 0; q < ac->ifaces[i].n_queues; q++)
            total += counter_read(&ac->ifaces[i].queues[q].pkts);
    return total;
}

static void queue_close(struct xsk_queue *q)
{
    if (q->xsk != NULL)
        xsk_socket__delete(q->xsk);
    if (q->umem != NULL)
        xsk_umem__delete(q->umem);
    if (q->umem_area != NULL)
        munmap(q->umem_area, q->umem_size);
    free(q->free_frames);
}

static void afxdp_destroy(struct capture *c)
{
    struct afxdp_capture *ac = (struct afxdp_capture *)c;

    if (ac == NULL)
        return;
    for (unsigned i = 0; i < ac->n_ifaces; i++) {
        struct afxdp_iface *ifc = &ac->ifaces[i];
        /* Detach first: no frame is redirected to a closing socket. */
        xdp_loader_close(ifc->loader);
        for (unsigned q = 0; ifc->queues != NULL && q < ifc->n_queues; q++)
            queue_close(&ifc->queues[q]);
        free(ifc->queues);
    }
    for (unsigned i = 0; ac->lanes != NULL && i < c->n_workers; i++) {
        free(ac->lanes[i].queues);
        free(ac->lanes[i].fds);
    }
    free(ac->lanes);
    free(ac->ifaces);
    free(ac);
}

static const struct capture_ops afxdp_ops = {
    .name = "afxdp",
    .start = afxdp_start,
    .running = afxdp_running,
    .stop = afxdp_stop,
    .join = afxdp_join,
    .counters = afxdp_counters,
    .packets = afxdp_packets,
    .destroy = afxdp_destroy,
};

/* ---- set-up --------------------------------------------------------------- */

/* RX queues of an interface: its combined channels, else its RX channels
 * (veth reports those), else 1 when the driver has no ethtool channels.
 * -1 when the interface does not exist. */
static int iface_channels(const char *name, char *err, size_t errlen)
{
    struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
    struct ifreq ifr;
    int fd, rc;

    if (if_nametoindex(name) == 0) {
        snprintf(err, errlen, "%s: no such network interface (%s)", name, strerror(errno));
        return -1;
    }
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    ifr.ifr_data = (void *)&ch;
    if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0)
        return 1;
    rc = ioctl(fd, SIOCETHTOOL, &ifr);
    close(fd);
    if (rc != 0)
        return 1;
    if (ch.combined_count > 0)
        return (int)ch.combined_count;
    return ch.rx_count > 0 ? (int)ch.rx_count : 1;
}

int capture_afxdp_queues(const struct afxdp_config *cfg, char *err, size_t errlen)
{
    int most = 0;

    for (unsigned i = 0; i < cfg->n_ifaces; i++) {
        int n = iface_channels(cfg->ifaces[i], err, errlen);
        if (n < 0)
            return -1;
        if (cfg->queues)
            n = (int)cfg->queues;
        if (n > most)
            most = n;
    }
    return most;
}

/* Native, or generic when native cannot attach and no mode was asked for. */
static int iface_attach(struct afxdp_iface *ifc, enum afxdp_xdp_mode want, char *err, size_t errlen)
{
    ifc->mode = want == AFXDP_XDP_GENERIC ? XDP_LOADER_GENERIC : XDP_LOADER_NATIVE;
    if (xdp_loader_attach(ifc->loader, ifc->mode, err, errlen) == 0)
        return 0;
    if (want != AFXDP_XDP_DEFAULT)
        return -1;
    fprintf(stderr, "mamori: %s; using generic mode\n", err);
    ifc->mode = XDP_LOADER_GENERIC;
    return xdp_loader_attach(ifc->loader, ifc->mode, err, errlen);
}

/* A UMEM on the queue's memory and a socket bound with bind_flag
 * (XDP_ZEROCOPY or XDP_COPY). libxdp loads no program of its own
 * (INHIBIT_PROG_LOAD): the caller puts the socket in mamori's XSKMAP. */
static int queue_bind(struct xsk_queue *q, uint32_t frames, uint16_t bind_flag,
                      char *err, size_t errlen)
{
    const struct xsk_umem_config ucfg = {
        .fill_size = frames / 2,
        .comp_size = COMP_RING_SIZE,
        .frame_size = FRAME_SIZE,
        .frame_headroom = 0,
        .flags = 0,
    };
    const struct xsk_socket_config scfg = {
        .rx_size = frames / 2,
        .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
        .bind_flags = bind_flag | XDP_USE_NEED_WAKEUP,
    };
    int rc = xsk_umem__create(&q->umem, q->umem_area, q->umem_size, &q->fill, &q->comp, &ucfg);

    if (rc != 0) {
        q->umem = NULL;
        snprintf(err, errlen, "%s queue %u: UMEM of %u frames: %s",
                 q->iface->name, q->queue_id, frames, strerror(-rc));
        return -1;
    }
    rc = xsk_socket__create(&q->xsk, q->iface->name, q->queue_id, q->umem, &q->rx, NULL, &scfg);
    if (rc != 0) {
        q->xsk = NULL;
        xsk_umem__delete(q->umem);
        q->umem = NULL;
        snprintf(err, errlen, "%s queue %u: AF_XDP socket in %s mode: %s",
                 q->iface->name, q->queue_id,
                 bind_flag == XDP_ZEROCOPY ? "zero-copy" : "copy", strerror(-rc));
        return -1;
    }
    return 0;
}

/* Zero-copy where asked for or (by default) where the program runs in the
 * driver; copy otherwise, or when the driver has no zero-copy. */
static int queue_open(struct afxdp_iface *ifc, struct xsk_queue *q, uint32_t queue_id,
                      const struct afxdp_config *cfg, bool *zc_notice, char *err, size_t errlen)
{
    uint32_t frames = cfg->frames ? cfg->frames : AFXDP_DEFAULT_FRAMES;
    bool try_zc = cfg->bind_mode == AFXDP_BIND_ZEROCOPY ||
                  (cfg->bind_mode == AFXDP_BIND_DEFAULT && ifc->mode == XDP_LOADER_NATIVE);

    q->iface = ifc;
    q->queue_id = queue_id;
    q->umem_size = (size_t)frames * FRAME_SIZE;
    q->umem_area = mmap(NULL, q->umem_size, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (q->umem_area == MAP_FAILED) {
        q->umem_area = NULL;
        snprintf(err, errlen, "%s queue %u: UMEM of %zu bytes: %s",
                 ifc->name, queue_id, q->umem_size, strerror(errno));
        return -1;
    }
    if ((q->free_frames = malloc(frames * sizeof(*q->free_frames))) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < frames; i++)
        q->free_frames[q->n_free++] = (uint64_t)i * FRAME_SIZE;

    if (try_zc) {
        if (queue_bind(q, frames, XDP_ZEROCOPY, err, errlen) == 0)
            q->zerocopy = true;
        else if (cfg->bind_mode == AFXDP_BIND_ZEROCOPY)
            return -1;
        else if (!*zc_notice) {
            fprintf(stderr, "mamori: %s; using copy mode\n", err);
            *zc_notice = true;
        }
    }
    if (!q->zerocopy && queue_bind(q, frames, XDP_COPY, err, errlen) < 0)
        return -1;
    queue_refill(q);
    return 0;
}

static int iface_open(struct afxdp_iface *ifc, const struct afxdp_config *cfg, unsigned port,
                      char *err, size_t errlen)
{
    const char *name = cfg->ifaces[port];
    int channels = iface_channels(name, err, errlen);
    bool zc_notice = false;

    if (channels < 0)
        return -1;
    if (strlen(name) >= sizeof(ifc->name)) {
        snprintf(err, errlen, "%s: interface name too long", name);
        return -1;
    }
    snprintf(ifc->name, sizeof(ifc->name), "%s", name);
    ifc->port = (uint16_t)port;
    ifc->n_queues = cfg->queues ? cfg->queues : (unsigned)channels;
    if (ifc->n_queues > (unsigned)channels) {
        snprintf(err, errlen, "%s: --queues %u, but it has %d RX queue%s",
                 name, ifc->n_queues, channels, channels == 1 ? "" : "s");
        return -1;
    }
    if (ifc->n_queues > 1)
        fprintf(stderr, "mamori: %s: %u queues: both directions of a flow reach one worker only "
                "if the NIC's RSS hash is symmetric (ethtool -X %s hkey with the 6d:5a pattern)\n",
                name, ifc->n_queues, name);
    if (ifc->n_queues < (unsigned)channels)
        fprintf(stderr, "mamori: %s: capturing %u of its %d queues: frames RSS puts on the "
                "others go to the kernel stack unseen\n", name, ifc->n_queues, channels);
    if ((ifc->loader = xdp_loader_open(name, (unsigned)channels, err, errlen)) == NULL ||
        iface_attach(ifc, cfg->xdp_mode, err, errlen) < 0)
        return -1;
    if ((ifc->queues = calloc(ifc->n_queues, sizeof(*ifc->queues))) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (unsigned q = 0; q < ifc->n_queues; q++) {
        if (queue_open(ifc, &ifc->queues[q], q, cfg, &zc_notice, err, errlen) < 0 ||
            xdp_loader_add_socket(ifc->loader, q, xsk_socket__fd(ifc->queues[q].xsk), err, errlen) < 0)
            return -1;
    }
    fprintf(stderr, "mamori: %s: XDP %s mode, %u AF_XDP socket%s (%s)\n", name,
            xdp_loader_mode_name(ifc->mode), ifc->n_queues, ifc->n_queues == 1 ? "" : "s",
            ifc->queues[0].zerocopy ? "zero-copy" : "copy");
    return 0;
}

/* Queue q of every interface goes to lane q % workers. */
static int assign_lanes(struct afxdp_capture *ac, char *err, size_t errlen)
{
    unsigned n = ac->base.n_workers, total = 0;

    for (unsigned i = 0; i < ac->n_ifaces; i++)
        total += ac->ifaces[i].n_queues;
    for (unsigned w = 0; w < n; w++) {
        ac->lanes[w].queues = calloc(total, sizeof(*ac->lanes[w].queues));
        ac->lanes[w].fds = calloc(total, sizeof(*ac->lanes[w].fds));
        if (ac->lanes[w].queues == NULL || ac->lanes[w].fds == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    for (unsigned i = 0; i < ac->n_ifaces; i++) {
        for (unsigned q = 0; q < ac->ifaces[i].n_queues; q++) {
            struct afxdp_lane *lane = &ac->lanes[q % n];
            struct xsk_queue *xq = &ac->ifaces[i].queues[q];

            lane->fds[lane->n_queues] = (struct pollfd){ .fd = xsk_socket__fd(xq->xsk), .events = POLLIN };
            lane->queues[lane->n_queues++] = xq;
        }
    }
    for (unsigned w = 0; w < n; w++)
        if (ac->lanes[w].n_queues == 0)
            fprintf(stderr, "mamori: worker %u has no queue to poll (queue q of every interface "
                    "goes to worker q %% %u)\n", w, n);
    return 0;
}

/* libxdp's warnings, marked as such; its debug output is not for operators. */
static int libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
    if (level != LIBXDP_WARN)
        return 0;
    fputs("mamori: ", stderr);   /* libxdp starts its lines with "libxdp: " */
    return vfprintf(stderr, fmt, ap);
}

struct capture *capture_afxdp_open(const struct afxdp_config *cfg,
                                   struct worker **workers, unsigned n_workers,
                                   char *err, size_t errlen)
{
    struct afxdp_capture *ac = calloc(1, sizeof(*ac));

    if (ac == NULL || n_workers == 0 || cfg->n_ifaces == 0) {
        snprintf(err, errlen, ac ? "AF_XDP: no interface or no worker" : "out of memory");
        free(ac);
        return NULL;
    }
    libxdp_set_print(libxdp_print);
    ac->base.ops = &afxdp_ops;
    ac->base.workers = workers;
    ac->base.n_workers = n_workers;
    ac->ifaces = calloc(cfg->n_ifaces, sizeof(*ac->ifaces));
    ac->lanes = calloc(n_workers, sizeof(*ac->lanes));
    if (ac->ifaces == NULL || ac->lanes == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (unsigned i = 0; i < n_workers; i++) {
        ac->lanes[i].owner = ac;
        ac->lanes[i].worker = workers[i];
    }
    for (unsigned i = 0; i < cfg->n_ifaces; i++) {
        ac->n_ifaces = i + 1;
        if (iface_open(&ac->ifaces[i], cfg, i, err, errlen) < 0)
            goto fail;
    }
    if (assign_lanes(ac, err, errlen) < 0)
        goto fail;
    return &ac->base;
fail:
    afxdp_destroy(&ac->base);
    return NULL;
}
