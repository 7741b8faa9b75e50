/* capture_pcap.c - pcap/pcapng files read by one thread, dispatched to the
 * workers by the symmetric flow hash. */
#include <errno.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture_pcap.h"
#include "counter.h"
#include "decoder.h"
#include "flow.h"
#include "spsc_ring.h"
#include "worker.h"

/* Each worker's input ring: room for a few thousand full-size packets, so
 * the reader rarely waits on one slow flow. */
#define INPUT_RING_BYTES (16u << 20)

#define PCAP_COUNTERS(X) \
    X(PKTS,        "capture.pkts") \
    X(BYTES,       "capture.bytes") \
    X(FILES,       "capture.files") \
    X(FILE_ERRORS, "capture.file_errors") \
    X(READER_WAITS,"capture.reader_waits")

enum pcap_counter {
#define PCAP_COUNTER_ENUM(id, name) PCAP_##id,
    PCAP_COUNTERS(PCAP_COUNTER_ENUM)
#undef PCAP_COUNTER_ENUM
    PCAP_COUNTER_COUNT
};

static const char *const pcap_counter_names[] = {
#define PCAP_COUNTER_NAME(id, name) name,
    PCAP_COUNTERS(PCAP_COUNTER_NAME)
#undef PCAP_COUNTER_NAME
};

/* A packet as it travels from the reader to a worker: its metadata, the
 * reader's decode of it, then the captured bytes. A clock record (no bytes)
 * carries the capture's clock to every worker each time it enters a new
 * second, so a worker that gets no packet for a while still times out its
 * flows and closes its detector ticks in step with the others: results do
 * not depend on how the flows were spread. */
enum queued_kind { QUEUED_PACKET, QUEUED_CLOCK };

struct queued_packet {
    uint32_t kind;                 /* enum queued_kind */
    struct packet pkt;
    struct decoded_packet decoded;
    uint8_t data[];
};

struct pcap_lane {                 /* the reader's path to one worker */
    struct pcap_capture *owner;
    struct worker *worker;
    struct spsc_ring input;
    pthread_t thread;
    bool thread_started;
    bool input_done;               /* reader: nothing more will come */
    bool finished;                 /* worker: flows flushed, thread ending */
};

struct pcap_capture {
    struct capture base;
    char **files;
    unsigned n_files;
    struct pcap_lane *lanes;
    pthread_t reader;
    bool reader_started;
    bool stop_requested;
    uint64_t clock_ns;             /* latest packet time read, all files */
    struct decoder_counters decoder;
    uint64_t counters[PCAP_COUNTER_COUNT];
};

static bool flag_get(const bool *flag)
{
    return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
}

static void flag_set(bool *flag)
{
    __atomic_store_n(flag, true, __ATOMIC_RELEASE);
}

/* ---- worker side ------------------------------------------------------- */

static void *pcap_worker_main(void *arg)
{
    struct pcap_lane *lane = arg;
    struct packet pkts[WORKER_BURST];
    struct decoded_packet decoded[WORKER_BURST];

    for (;;) {
        unsigned n = 0;
        struct queued_packet *q;
        uint32_t len;
        /* Read the flag before looking at the ring: if it was set, the
         * reader's last packets were committed before it. */
        bool done = flag_get(&lane->input_done);

        uint64_t clock = 0;
        while (n < WORKER_BURST && (q = spsc_ring_peek(&lane->input, &len)) != NULL) {
            if (q->kind == QUEUED_CLOCK) {
                clock = q->pkt.clock_ns;
                break;
            }
            pkts[n] = q->pkt;
            pkts[n].data = q->data;
            decoded[n] = q->decoded;
            n++;
        }
        if (n > 0 || clock) {
            if (n > 0)
                worker_flow_burst(lane->worker, pkts, decoded, n);
            spsc_ring_consume(&lane->input);
            if (clock)
                worker_advance(lane->worker, clock);
        } else if (done) {
            break;
        } else {
            sched_yield();
        }
    }
    worker_finish(lane->worker, lane->owner->clock_ns);
    flag_set(&lane->finished);
    return NULL;
}

/* ---- reader side ------------------------------------------------------- */

static unsigned pcap_pick_lane(const struct decoded_packet *d, unsigned n_lanes)
{
    struct flow_key key;

    if (n_lanes == 1 || !(d->flags & DECODED_IP))
        return 0;
    flow_key_from_decoded(&key, d);
    return worker_for_hash(flow_key_hash(&key), n_lanes);
}

static void pcap_commit_all(struct pcap_capture *pc)
{
    for (unsigned i = 0; i < pc->base.n_workers; i++)
        spsc_ring_commit(&pc->lanes[i].input);
}

/* A worker's ring is full: let every worker see what is queued for it
 * before waiting. The one we wait on may itself be waiting for the
 * statistical detectors to evaluate a tick, which needs the others to
 * move past it - on a clock record that must not sit uncommitted here. */
static void pcap_wait_for_room(struct pcap_capture *pc)
{
    pcap_commit_all(pc);
    counter_inc(&pc->counters[PCAP_READER_WAITS]);
    sched_yield();
}

/* Queue one packet for its worker, waiting for room: offline input is
 * never dropped. */
static void pcap_queue_packet(struct pcap_capture *pc, const struct packet *pkt,
                              const struct decoded_packet *d)
{
    struct pcap_lane *lane = &pc->lanes[pcap_pick_lane(d, pc->base.n_workers)];
    struct queued_packet *q;

    while ((q = spsc_ring_reserve(&lane->input, sizeof(*q) + pkt->caplen)) == NULL)
        pcap_wait_for_room(pc);
    q->kind = QUEUED_PACKET;
    q->pkt = *pkt;
    q->pkt.data = NULL;
    q->decoded = *d;
    memcpy(q->data, pkt->data, pkt->caplen);
}

/* Tell every worker the capture's clock (see struct queued_packet). */
static void pcap_queue_clock(struct pcap_capture *pc, uint64_t clock_ns)
{
    for (unsigned i = 0; i < pc->base.n_workers; i++) {
        struct pcap_lane *lane = &pc->lanes[i];
        struct queued_packet *q;
        while ((q = spsc_ring_reserve(&lane->input, sizeof(*q))) == NULL)
            pcap_wait_for_room(pc);
        memset(q, 0, sizeof(*q));
        q->kind = QUEUED_CLOCK;
        q->pkt.clock_ns = clock_ns;
    }
    pcap_commit_all(pc);
}

/* Where the next record starts: the file's read position (a capture read
 * from a pipe has none: -1). */
static long long pcap_position(pcap_t *p)
{
    FILE *file = pcap_file(p);

    return file ? (long long)ftello(file) : -1LL;
}

/* A truncated or corrupt record: what was read before it stands (its
 * packets are already queued); say which file broke, where, and why. */
static void pcap_report_damage(struct pcap_capture *pc, pcap_t *p, const char *path,
                               uint64_t packets, long long record_at)
{
    fprintf(stderr, "mamori: %s: damaged capture at byte offset %lld (the record after "
            "packet %llu): %s; the packets before it are analysed, the rest of the file "
            "is not\n", path, record_at, (unsigned long long)packets, pcap_geterr(p));
    counter_inc(&pc->counters[PCAP_FILE_ERRORS]);
}

/* Read one file to its end, an error, or a stop request. */
static void pcap_read_file(struct pcap_capture *pc, const char *path)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    struct pcap_pkthdr *hdr;
    const u_char *bytes;
    uint64_t index = 0;
    long long record_at;
    int rc = 0;

    if (p == NULL) {
        fprintf(stderr, "mamori: %s: %s\n", path, errbuf);
        counter_inc(&pc->counters[PCAP_FILE_ERRORS]);
        return;
    }
    counter_inc(&pc->counters[PCAP_FILES]);
    enum link_type link = link_type_from_dlt(pcap_datalink(p));

    /* The position before each read is where a damaged record starts. */
    record_at = pcap_position(p);
    while (!flag_get(&pc->stop_requested) && (rc = pcap_next_ex(p, &hdr, &bytes)) == 1) {
        struct packet pkt = {
            .data = bytes,
            .caplen = hdr->caplen,
            .wirelen = hdr->len > hdr->caplen ? hdr->len : hdr->caplen,
            .ts_ns = (uint64_t)hdr->ts.tv_sec * 1000000000ull + (uint64_t)hdr->ts.tv_usec,
            .link_type = (uint16_t)link,
            .port = 0,
        };
        struct decoded_packet d;

        if (pkt.ts_ns > pc->clock_ns) {
            if (pc->base.n_workers > 1 &&
                pkt.ts_ns / 1000000000ull != pc->clock_ns / 1000000000ull)
                pcap_queue_clock(pc, pkt.ts_ns);
            pc->clock_ns = pkt.ts_ns;
        }
        pkt.clock_ns = pc->clock_ns;
        index++;
        decode_packet(&pkt, &d, &pc->decoder);
        pcap_queue_packet(pc, &pkt, &d);
        counter_inc(&pc->counters[PCAP_PKTS]);
        counter_add(&pc->counters[PCAP_BYTES], pkt.wirelen);
        if ((index & (WORKER_BURST - 1)) == 0)
            pcap_commit_all(pc);
        record_at = pcap_position(p);
    }
    pcap_commit_all(pc);
    if (rc == PCAP_ERROR)
        pcap_report_damage(pc, p, path, index, record_at);
    pcap_close(p);
}

static void *pcap_reader_main(void *arg)
{
    struct pcap_capture *pc = arg;

    for (unsigned i = 0; i < pc->n_files && !flag_get(&pc->stop_requested); i++)
        pcap_read_file(pc, pc->files[i]);
    pcap_commit_all(pc);
    for (unsigned i = 0; i < pc->base.n_workers; i++)
        flag_set(&pc->lanes[i].input_done);
    return NULL;
}

/* ---- capture ops ------------------------------------------------------- */

static int pcap_start(struct capture *c, char *err, size_t errlen)
{
    struct pcap_capture *pc = (struct pcap_capture *)c;
    int rc;

    for (unsigned i = 0; i < c->n_workers; i++) {
        rc = pthread_create(&pc->lanes[i].thread, NULL, pcap_worker_main, &pc->lanes[i]);
        if (rc != 0) {
            snprintf(err, errlen, "starting worker thread %u: %s", i, strerror(rc));
            pc->base.ops->stop(c);
            return -1;
        }
        pc->lanes[i].thread_started = true;
    }
    rc = pthread_create(&pc->reader, NULL, pcap_reader_main, pc);
    if (rc != 0) {
        snprintf(err, errlen, "starting pcap reader thread: %s", strerror(rc));
        pc->base.ops->stop(c);
        for (unsigned i = 0; i < c->n_workers; i++)
            flag_set(&pc->lanes[i].input_done);
        return -1;
    }
    pc->reader_started = true;
    return 0;
}

static bool pcap_running(struct capture *c)
{
    struct pcap_capture *pc = (struct pcap_capture *)c;

    for (unsigned i = 0; i < c->n_workers; i++)
        if (pc->lanes[i].thread_started && !flag_get(&pc->lanes[i].finished))
            return true;
    return false;
}

static void pcap_stop(struct capture *c)
{
    flag_set(&((struct pcap_capture *)c)->stop_requested);
}

static void pcap_join(struct capture *c)
{
    struct pcap_capture *pc = (struct pcap_capture *)c;

    if (pc->reader_started)
        pthread_join(pc->reader, NULL);
    pc->reader_started = false;
    for (unsigned i = 0; i < c->n_workers; i++) {
        if (pc->lanes[i].thread_started)
            pthread_join(pc->lanes[i].thread, NULL);
        pc->lanes[i].thread_started = false;
    }
}

static void pcap_counters(struct capture *c, counter_fn fn, void *ctx)
{
    struct pcap_capture *pc = (struct pcap_capture *)c;

    for (unsigned i = 0; i < PCAP_COUNTER_COUNT; i++)
        fn(ctx, pcap_counter_names[i], counter_read(&pc->counters[i]));
    for (unsigned i = 0; i < DECODER_COUNTER_COUNT; i++)
        fn(ctx, decoder_counter_name(i), counter_read(&pc->decoder.v[i]));
}

static uint64_t pcap_packets(struct capture *c)
{
    return counter_read(&((struct pcap_capture *)c)->counters[PCAP_PKTS]);
}

static void pcap_destroy(struct capture *c)
{
    struct pcap_capture *pc = (struct pcap_capture *)c;

    if (pc == NULL)
        return;
    for (unsigned i = 0; i < pc->n_files; i++)
        free(pc->files[i]);
    free(pc->files);
    if (pc->lanes != NULL)
        for (unsigned i = 0; i < c->n_workers; i++)
            spsc_ring_free(&pc->lanes[i].input);
    free(pc->lanes);
    free(pc);
}

static const struct capture_ops pcap_ops = {
    .name = "pcap",
    .start = pcap_start,
    .running = pcap_running,
    .stop = pcap_stop,
    .join = pcap_join,
    .counters = pcap_counters,
    .packets = pcap_packets,
    .destroy = pcap_destroy,
};

/* Fail early, naming the file, rather than halfway through a long run. A
 * file that can be read but that libpcap refuses has a damaged (or no)
 * capture header: that is at byte offset 0. */
static int pcap_check_readable(const char *path, char *err, size_t errlen)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path, errbuf);

    if (p == NULL) {
        if (strcmp(path, "-") != 0 && access(path, R_OK) == 0)
            snprintf(err, errlen, "%s: not a capture file, or its header is damaged "
                     "(byte offset 0): %s", path, errbuf);
        else
            snprintf(err, errlen, "%s: %s", path, errbuf);
        return -1;
    }
    pcap_close(p);
    return 0;
}

struct capture *capture_pcap_open(const char *const *files, unsigned n_files,
                                  struct worker **workers, unsigned n_workers,
                                  char *err, size_t errlen)
{
    struct pcap_capture *pc = calloc(1, sizeof(*pc));

    if (pc == NULL || n_workers == 0 || n_files == 0) {
        snprintf(err, errlen, pc ? "no pcap file or no worker" : "out of memory");
        free(pc);
        return NULL;
    }
    pc->base.ops = &pcap_ops;
    pc->base.workers = workers;
    pc->base.n_workers = n_workers;
    pc->files = calloc(n_files, sizeof(*pc->files));
    pc->lanes = calloc(n_workers, sizeof(*pc->lanes));
    if (pc->files == NULL || pc->lanes == NULL)
        goto nomem;
    for (unsigned i = 0; i < n_files; i++) {
        if (pcap_check_readable(files[i], err, errlen) < 0)
            goto fail;
        if ((pc->files[i] = strdup(files[i])) == NULL)
            goto nomem;
        pc->n_files++;
    }
    for (unsigned i = 0; i < n_workers; i++) {
        pc->lanes[i].owner = pc;
        pc->lanes[i].worker = workers[i];
        if (spsc_ring_init(&pc->lanes[i].input, INPUT_RING_BYTES) < 0)
            goto nomem;
    }
    return &pc->base;
nomem:
    snprintf(err, errlen, "pcap capture: out of memory");
fail:
    pcap_destroy(&pc->base);
    return NULL;
}
