/* anomaly.c - the statistical detectors' main-thread side: configuration
 * and host groups, collecting and merging the workers' tick snapshots,
 * and each attack's lifecycle (start, updates, end) and alerts. The
 * detectors themselves are in anomaly_detect.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly_engine_int.h"

/* ---- names ------------------------------------------------------------------- */

static const char *const detector_names[] = {
#define ANOMALY_DETECTOR_NAME(id, sid, name) name,
    ANOMALY_DETECTORS(ANOMALY_DETECTOR_NAME)
#undef ANOMALY_DETECTOR_NAME
};

static const uint32_t detector_sids[] = {
#define ANOMALY_DETECTOR_SID(id, sid, name) sid,
    ANOMALY_DETECTORS(ANOMALY_DETECTOR_SID)
#undef ANOMALY_DETECTOR_SID
};

static const char *const counter_names[] = {
#define ANOMALY_COUNTER_NAME(id, name) name,
    ANOMALY_ENGINE_COUNTERS(ANOMALY_COUNTER_NAME)
#undef ANOMALY_COUNTER_NAME
};

const char *anomaly_detector_name(enum anomaly_detector d)
{
    return (unsigned)d < ANOMALY_DETECTOR_COUNT ? detector_names[d] : "unknown";
}

uint32_t anomaly_detector_sid(enum anomaly_detector d)
{
    return (unsigned)d < ANOMALY_DETECTOR_COUNT ? detector_sids[d] : 0;
}

const char *anomaly_phase_name(enum anomaly_phase p)
{
    static const char *const names[] = { "start", "update", "end" };
    return (unsigned)p < 3 ? names[p] : "unknown";
}

const char *anomaly_engine_counter_name(enum anomaly_engine_counter i)
{
    return (unsigned)i < ANOMALY_ENGINE_COUNTER_COUNT ? counter_names[i] : NULL;
}

/* ---- configuration --------------------------------------------------------------- */

/* The setters write field by field into the zeroed configuration: a
 * struct assigned whole may carry garbage in its padding, and configurations
 * are compared with memcmp (tests: dump, load, compare). */
static void set_rate(struct anomaly_rate_cfg *c, double pps, double bps)
{
    c->enabled = true, c->pps = pps, c->bps = bps, c->z = 6.0, c->ratio = 3.0;
}

static void set_scan(struct anomaly_scan_cfg *c)
{
    c->enabled = true, c->score = 64, c->success_weight = 0.5, c->fail_weight = 2.0;
    c->window = 5;
}

static void set_spike(struct anomaly_spike_cfg *c, double new_flows, double bps, double ratio)
{
    c->enabled = true, c->new_flows = new_flows, c->bps = bps, c->cusum_k = 0.5;
    c->cusum_h = 10, c->ratio = ratio;
}

static const uint16_t default_reflector_ports[] = {
    17, 19, 53, 69, 111, 123, 137, 161, 389, 427, 520, 1434, 1900, 3283, 3702, 5353,
    11211, 37810, 47808,
};

static const uint16_t default_brute_force_ports[] = {
    21, 22, 23, 25, 110, 143, 445, 465, 587, 993, 995, 1433, 3306, 3389, 5432, 5900,
};

/* The defaults, and why:
 *  - floods of packets that only attacks produce in bulk (unsolicited
 *    SYN-ACKs, reflector responses nobody asked for) have low floors;
 *  - floods of ordinary packets (UDP, ICMP, ACK, RST) have floors above
 *    what one busy host receives, and lean on the baseline ratio;
 *  - SYN floods also need most handshakes to fail, so a busy server's
 *    legitimate SYNs never count. */
void anomaly_config_default(struct anomaly_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->dst_width = 16384;
    cfg->dsrc_width = 4096;
    cfg->event_width = 4096;
    cfg->bf_width = 2048;
    cfg->snapshots = 3;
    cfg->seed = 0;
    cfg->event_budget = 262144;
    cfg->track_max = 8192;
    cfg->track_candidates_max = 1024;
    cfg->track_min_pps = 20;
    cfg->track_idle_s = 300;
    cfg->baseline_alpha = 0.05;
    cfg->baseline_warmup = 20;
    cfg->max_wait_ticks = 2;
    cfg->start_ticks = 1;
    cfg->hold_s = 10;
    cfg->update_s = 10;
    cfg->sustain_ratio = 0.5;
    cfg->max_active = 256;
    memcpy(cfg->reflector_ports, default_reflector_ports, sizeof(default_reflector_ports));
    cfg->n_reflector_ports = sizeof(default_reflector_ports) / sizeof(uint16_t);
    memcpy(cfg->brute_force_ports, default_brute_force_ports, sizeof(default_brute_force_ports));
    cfg->n_brute_force_ports = sizeof(default_brute_force_ports) / sizeof(uint16_t);
    cfg->brute_force_long_s = 60;

    struct anomaly_thresholds *t = &cfg->th;
    set_rate(&t->syn_flood, 1000, 0);
    t->syn_completion_max = 0.3;
    set_rate(&t->syn_ecn_flood, 1000, 0);
    set_rate(&t->ack_flood, 20000, 0);
    set_rate(&t->rst_flood, 5000, 0);
    set_rate(&t->synack_reflection, 1000, 0);
    set_rate(&t->udp_flood, 50000, 500e6);
    set_rate(&t->icmp_flood, 5000, 50e6);
    set_rate(&t->amplification, 1000, 2e6);
    t->amplification_min_sources = 3;
    set_rate(&t->frag_flood, 5000, 50e6);
    set_scan(&t->port_scan);
    set_scan(&t->host_sweep);
    t->brute_force.enabled = true, t->brute_force.attempts = 10, t->brute_force.window = 60;
    set_spike(&t->dst_spike, 2000, 200e6, 5);

    set_spike(&cfg->flow_spike, 5000, 0, 3);
    set_spike(&cfg->volume_spike, 0, 1e9, 3);
    set_rate(&cfg->decode, 100, 0);
    cfg->decode.ratio = 5;
}

/* "a.b.c.d[/n]" or "x:y::z[/n]". */
static int parse_prefix(const char *text, uint8_t addr[16], uint8_t *version, uint8_t *plen)
{
    char buf[INET6_ADDRSTRLEN + 8];
    size_t n = strlen(text);
    if (n == 0 || n >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, text, n + 1);
    char *slash = strchr(buf, '/');
    long len = -1;
    if (slash) {
        char *end;
        *slash = '\0';
        len = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end != '\0')
            return -EINVAL;
    }
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, buf, addr) == 1) {
        *version = 4;
        if (len < 0)
            len = 32;
        if (len > 32)
            return -EINVAL;
    } else if (inet_pton(AF_INET6, buf, addr) == 1) {
        *version = 6;
        if (len < 0)
            len = 128;
        if (len > 128)
            return -EINVAL;
    } else {
        return -EINVAL;
    }
    *plen = (uint8_t)len;
    for (unsigned i = 0; i < 16; i++) {     /* host bits to zero */
        int keep = (int)len - (int)(8 * i);
        if (keep <= 0)
            addr[i] = 0;
        else if (keep < 8)
            addr[i] &= (uint8_t)(0xff00u >> keep);
    }
    return 0;
}

int anomaly_config_add_group(struct anomaly_config *cfg, const char *prefix, const char *name,
                             struct anomaly_thresholds **th)
{
    struct anomaly_host_group g;

    memset(&g, 0, sizeof(g));
    if (parse_prefix(prefix, g.addr, &g.version, &g.prefix_len) < 0)
        return -EINVAL;
    if (cfg->n_groups >= ANOMALY_GROUPS_MAX)
        return -ENOSPC;
    snprintf(g.name, sizeof(g.name), "%s", name ? name : prefix);
    g.th = cfg->th;
    cfg->groups[cfg->n_groups] = g;
    if (th)
        *th = &cfg->groups[cfg->n_groups].th;
    cfg->n_groups++;
    return 0;
}

static bool prefix_match(const struct anomaly_host_group *g, const uint8_t addr[16])
{
    unsigned full = g->prefix_len / 8, rest = g->prefix_len % 8;
    if (memcmp(g->addr, addr, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff00u >> rest);
    return (addr[full] & mask) == g->addr[full];
}

const struct anomaly_thresholds *anomaly_config_lookup(const struct anomaly_config *cfg,
                                                       const uint8_t addr[16], uint8_t version,
                                                       const char **group_name)
{
    const struct anomaly_host_group *best = NULL;

    for (unsigned i = 0; i < cfg->n_groups; i++) {
        const struct anomaly_host_group *g = &cfg->groups[i];
        if (g->version != version || !prefix_match(g, addr))
            continue;
        if (best == NULL || g->prefix_len > best->prefix_len)
            best = g;
    }
    if (group_name)
        *group_name = best ? best->name : NULL;
    return best ? &best->th : &cfg->th;
}

const struct anomaly_thresholds *an_thresholds_for(const struct anomaly_engine *e,
                                                   const struct an_addr *a)
{
    uint8_t b[16];
    memcpy(b, a->w, 16);
    return anomaly_config_lookup(&e->cfg, b, a->version, NULL);
}

void an_to_anomaly_addr(struct anomaly_addr *out, const struct an_addr *a)
{
    out->version = a->version;
    memcpy(out->addr, a->w, 16);
}

static int check_config(const struct anomaly_config *cfg, char *err, size_t errlen)
{
    struct an_dims dm;
    if (an_dims_init(&dm, cfg) < 0) {
        snprintf(err, errlen, "anomaly: table widths must be powers of two in [16, 2^24]");
        return -EINVAL;
    }
    if (cfg->snapshots < 2 || cfg->snapshots > AN_RING_SLOTS) {
        snprintf(err, errlen, "anomaly: snapshots must be 2..%d", AN_RING_SLOTS);
        return -EINVAL;
    }
    if (cfg->max_active == 0 || cfg->track_max == 0 || cfg->track_candidates_max == 0) {
        snprintf(err, errlen, "anomaly: max_active, track_max, track_candidates_max must be > 0");
        return -EINVAL;
    }
    if (cfg->n_reflector_ports > ANOMALY_PORTS_MAX || cfg->n_brute_force_ports > ANOMALY_PORTS_MAX ||
        cfg->n_groups > ANOMALY_GROUPS_MAX) {
        snprintf(err, errlen, "anomaly: too many ports or groups");
        return -EINVAL;
    }
    if (cfg->baseline_alpha <= 0 || cfg->baseline_alpha > 1) {
        snprintf(err, errlen, "anomaly: baseline_alpha must be in (0, 1]");
        return -EINVAL;
    }
    const struct anomaly_thresholds *ths[ANOMALY_GROUPS_MAX + 1];
    ths[0] = &cfg->th;
    for (unsigned i = 0; i < cfg->n_groups; i++)
        ths[i + 1] = &cfg->groups[i].th;
    for (unsigned i = 0; i <= cfg->n_groups; i++) {
        const struct anomaly_thresholds *t = ths[i];
        if (t->port_scan.window < 1 || t->port_scan.window > AN_SCAN_WIN_MAX ||
            t->host_sweep.window < 1 || t->host_sweep.window > AN_SCAN_WIN_MAX ||
            t->brute_force.window < 1 || t->brute_force.window > AN_WIN_MAX) {
            snprintf(err, errlen, "anomaly: scan windows must be 1..%d s, brute force 1..%d s",
                     AN_SCAN_WIN_MAX, AN_WIN_MAX);
            return -EINVAL;
        }
    }
    return 0;
}

static void portset_fill(struct an_portset *s, const uint16_t *ports, unsigned n)
{
    memset(s, 0, sizeof(*s));
    for (unsigned i = 0; i < n; i++)
        s->bits[ports[i] >> 6] |= 1ull << (ports[i] & 63);
}

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 16;
    while (p < n)
        p <<= 1;
    return p;
}

static void reset_thresholds(struct anomaly_engine *e)
{
    for (uint32_t i = 0; i <= e->dst_mask; i++)
        if (e->dsts[i].used)
            e->dsts[i].th = an_thresholds_for(e, &e->dsts[i].addr);
    for (uint32_t i = 0; i <= e->cand_mask; i++)
        if (e->cands[i].used)
            e->cands[i].th = an_thresholds_for(e, &e->cands[i].src);
}

/* ---- the engine ------------------------------------------------------------------- */

#define DEFAULT_SEED 0x6d616d6f72692d61ull    /* "mamori-a" */

struct anomaly_engine *anomaly_engine_create(const struct anomaly_config *cfg, unsigned nworkers,
                                             anomaly_alert_fn fn, void *ctx,
                                             char *err, size_t errlen)
{
    if (nworkers < 1 || nworkers > 64) {
        snprintf(err, errlen, "anomaly: 1 to 64 workers");
        return NULL;
    }
    if (check_config(cfg, err, errlen) < 0)
        return NULL;
    struct anomaly_engine *e = calloc(1, sizeof(*e));
    if (e == NULL)
        goto nomem;
    e->cfg = *cfg;
    if (e->cfg.seed == 0)
        e->cfg.seed = DEFAULT_SEED;
    (void)an_dims_init(&e->dims, &e->cfg);
    portset_fill(&e->refl_ports, e->cfg.reflector_ports, e->cfg.n_reflector_ports);
    portset_fill(&e->bf_ports, e->cfg.brute_force_ports, e->cfg.n_brute_force_ports);
    e->fn = fn;
    e->ctx = ctx;
    e->next_tick = AN_NO_TICK;

    e->dst_mask = pow2_at_least(e->cfg.track_max * 2) - 1;
    e->dsts = calloc((size_t)e->dst_mask + 1, sizeof(*e->dsts));
    e->cand_mask = pow2_at_least(e->cfg.track_candidates_max * 2) - 1;
    e->cands = calloc((size_t)e->cand_mask + 1, sizeof(*e->cands));
    e->attacks = calloc(e->cfg.max_active, sizeof(*e->attacks));
    e->workers = calloc(nworkers, sizeof(*e->workers));
    if (!e->dsts || !e->cands || !e->attacks || !e->workers)
        goto nomem;
    if (an_snap_init(&e->merged_buf, &e->dims) < 0)
        goto nomem;
    e->merged = &e->merged_buf;
    for (unsigned i = 0; i < nworkers; i++) {
        e->workers[i] = an_worker_create(&e->cfg, &e->dims, &e->refl_ports, &e->bf_ports, i,
                                         err, errlen);
        if (e->workers[i] == NULL) {
            anomaly_engine_destroy(e);
            return NULL;
        }
        e->nworkers = i + 1;
    }
    double a = e->cfg.baseline_alpha;
    ewma_init(&e->g_flows, a, 1);
    ewma_init(&e->g_bps, a, 1);
    ewma_init(&e->g_invalid, a, 1);
    cusum_init(&e->gc_flows, e->cfg.flow_spike.cusum_k, e->cfg.flow_spike.cusum_h);
    cusum_init(&e->gc_bps, e->cfg.volume_spike.cusum_k, e->cfg.volume_spike.cusum_h);
    return e;
nomem:
    snprintf(err, errlen, "anomaly: out of memory");
    anomaly_engine_destroy(e);
    return NULL;
}

void anomaly_engine_destroy(struct anomaly_engine *e)
{
    if (e == NULL)
        return;
    /* The merge buffer may be a worker's (swapped in): free by ownership. */
    for (unsigned i = 0; i < e->nworkers; i++)
        an_worker_destroy(e->workers[i]);
    an_snap_free(&e->merged_buf);
    free(e->workers);
    free(e->dsts);
    free(e->cands);
    free(e->attacks);
    free(e);
}

struct anomaly_worker *anomaly_engine_worker(struct anomaly_engine *e, unsigned i)
{
    return i < e->nworkers ? e->workers[i] : NULL;
}

int anomaly_engine_reconfigure(struct anomaly_engine *e, const struct anomaly_config *cfg)
{
    char err[128];
    if (check_config(cfg, err, sizeof(err)) < 0)
        return -EINVAL;
    uint64_t seed = cfg->seed ? cfg->seed : DEFAULT_SEED;
    if (cfg->dst_width != e->cfg.dst_width || cfg->dsrc_width != e->cfg.dsrc_width ||
        cfg->event_width != e->cfg.event_width || cfg->bf_width != e->cfg.bf_width ||
        cfg->snapshots != e->cfg.snapshots || seed != e->cfg.seed ||
        cfg->track_max != e->cfg.track_max ||
        cfg->track_candidates_max != e->cfg.track_candidates_max ||
        cfg->max_active != e->cfg.max_active)
        return -EINVAL;
    e->cfg = *cfg;
    e->cfg.seed = seed;
    /* The workers read the port sets per packet: a word at a time, so a
     * packet sees the old or the new bit, never garbage. */
    portset_fill(&e->refl_ports, e->cfg.reflector_ports, e->cfg.n_reflector_ports);
    portset_fill(&e->bf_ports, e->cfg.brute_force_ports, e->cfg.n_brute_force_ports);
    e->gc_flows.k = cfg->flow_spike.cusum_k;
    e->gc_flows.h = cfg->flow_spike.cusum_h;
    e->gc_bps.k = cfg->volume_spike.cusum_k;
    e->gc_bps.h = cfg->volume_spike.cusum_h;
    reset_thresholds(e);
    return 0;
}

uint64_t anomaly_engine_counter(const struct anomaly_engine *e, enum anomaly_engine_counter i)
{
    if ((unsigned)i >= ANOMALY_ENGINE_COUNTER_COUNT)
        return 0;
    if (i == ANOMALY_ENGINE_TRACKED)
        return e->dst_count;
    if (i == ANOMALY_ENGINE_ATTACKS_ACTIVE) {
        uint64_t n = 0;
        for (unsigned k = 0; k < e->cfg.max_active; k++)
            n += e->attacks[k].used && e->attacks[k].started;
        return n;
    }
    return e->counters[i];
}

size_t anomaly_engine_memory(const struct anomaly_engine *e)
{
    return sizeof(*e) + e->merged_buf.mem_bytes +
           ((size_t)e->dst_mask + 1) * sizeof(*e->dsts) +
           ((size_t)e->cand_mask + 1) * sizeof(*e->cands) +
           e->cfg.max_active * sizeof(*e->attacks);
}

void an_engine_set_tick_hook(struct anomaly_engine *e, an_tick_hook_fn fn, void *ctx)
{
    e->hook = fn;
    e->hook_ctx = ctx;
}

/* ---- attacks and alerts ---------------------------------------------------------- */

static bool addr_eq(const struct anomaly_addr *a, const struct anomaly_addr *b)
{
    return a->version == b->version && memcmp(a->addr, b->addr, 16) == 0;
}

static bool same_attack(const struct an_attack *a, const struct an_obs *o)
{
    return a->o.det == o->det && a->o.port == o->port && addr_eq(&a->o.victim, &o->victim) &&
           addr_eq(&a->o.attacker, &o->attacker);
}

bool an_flood_active(const struct anomaly_engine *e)
{
    for (unsigned i = 0; i < e->cfg.max_active; i++)
        if (e->attacks[i].used && e->attacks[i].o.det <= ANOMALY_FRAG_FLOOD)
            return true;
    return false;
}

bool an_victim_flooded(const struct anomaly_engine *e, const struct anomaly_addr *victim)
{
    for (unsigned i = 0; i < e->cfg.max_active; i++) {
        const struct an_attack *a = &e->attacks[i];
        if (a->used && a->o.det <= ANOMALY_FRAG_FLOOD && addr_eq(&a->o.victim, victim))
            return true;
    }
    return false;
}

bool an_victim_under_attack(const struct anomaly_engine *e, const struct anomaly_addr *victim,
                            enum anomaly_detector except)
{
    for (unsigned i = 0; i < e->cfg.max_active; i++) {
        const struct an_attack *a = &e->attacks[i];
        if (a->used && a->o.det != except && addr_eq(&a->o.victim, victim))
            return true;
    }
    return false;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Stable for the attack, the same on every run over the same input, and
 * small enough for JSON readers that parse numbers as doubles. */
static uint64_t attack_id(const struct an_obs *o, uint64_t tick)
{
    uint64_t h = mix64(anomaly_detector_sid(o->det) ^ mix64(tick));
    uint64_t w[2];
    memcpy(w, o->victim.addr, 16);
    h = mix64(h ^ w[0]) ^ mix64(w[1] + o->victim.version);
    memcpy(w, o->attacker.addr, 16);
    h = mix64(h ^ w[0]) ^ mix64(w[1] + ((uint64_t)o->port << 8) + o->attacker.version);
    h &= (1ull << 51) - 1;
    return h ? h : 1;
}

void an_observe(struct anomaly_engine *e, const struct an_obs *o, uint64_t tick)
{
    struct an_attack *a = NULL, *free_slot = NULL;

    for (unsigned i = 0; i < e->cfg.max_active; i++) {
        struct an_attack *x = &e->attacks[i];
        if (!x->used) {
            if (!free_slot)
                free_slot = x;
        } else if (same_attack(x, o)) {
            a = x;
            break;
        }
    }
    if (a == NULL) {
        if (!o->above)
            return;
        if (free_slot == NULL) {
            e->counters[ANOMALY_ENGINE_ATTACKS_DROPPED]++;
            return;
        }
        a = free_slot;
        memset(a, 0, sizeof(*a));
        a->used = true;
        a->first_tick = tick;
        a->last_obs = AN_NO_TICK;
    }
    if (a->last_obs == tick) {
        /* Seen twice in one tick (both rows of a table): keep the larger. */
        if (o->value > a->o.value)
            a->o = *o;
        return;
    }
    if (!a->started && !o->above)
        return;                      /* a pending start that fell back: lifecycle drops it */
    a->last_obs = tick;
    a->o = *o;
    a->last_above = tick;
    a->above_run = o->above ? a->above_run + 1 : a->above_run;
    if (o->pps > a->peak_pps)
        a->peak_pps = o->pps;
    if (o->bps > a->peak_bps)
        a->peak_bps = o->bps;
    if (o->value > a->peak_value)
        a->peak_value = o->value;
}

static const char *service_name(uint16_t port)
{
    switch (port) {
    case 17: return "QOTD";
    case 19: return "chargen";
    case 53: return "DNS";
    case 69: return "TFTP";
    case 111: return "portmap";
    case 123: return "NTP";
    case 137: return "NetBIOS";
    case 161: return "SNMP";
    case 389: return "CLDAP";
    case 427: return "SLP";
    case 520: return "RIP";
    case 1434: return "MSSQL";
    case 1900: return "SSDP";
    case 3283: return "ARD";
    case 3702: return "WS-Discovery";
    case 5353: return "mDNS";
    case 11211: return "memcached";
    case 37810: return "DVR";
    case 47808: return "BACnet";
    case 21: return "FTP";
    case 22: return "SSH";
    case 23: return "telnet";
    case 25: return "SMTP";
    case 110: return "POP3";
    case 143: return "IMAP";
    case 445: return "SMB";
    case 465: case 587: return "SMTP submission";
    case 993: return "IMAPS";
    case 995: return "POP3S";
    case 1433: return "MSSQL";
    case 3306: return "MySQL";
    case 3389: return "RDP";
    case 5432: return "PostgreSQL";
    case 5900: return "VNC";
    default: return NULL;
    }
}

static void addr_text(const struct anomaly_addr *a, char *buf, size_t len)
{
    if (a->version == 0 || inet_ntop(a->version == 6 ? AF_INET6 : AF_INET, a->addr, buf,
                                     (socklen_t)len) == NULL)
        snprintf(buf, len, "-");
}

static void signature(const struct an_obs *o, char *out, size_t len)
{
    char v[INET6_ADDRSTRLEN], s[INET6_ADDRSTRLEN], svc[32];
    addr_text(&o->victim, v, sizeof(v));
    addr_text(&o->attacker, s, sizeof(s));
    const char *name;

    switch (o->det) {
    case ANOMALY_SYN_FLOOD: snprintf(out, len, "MAMORI SYN flood toward %s", v); break;
    case ANOMALY_SYN_ECN_FLOOD: snprintf(out, len, "MAMORI SYN+ECE+CWR flood toward %s", v); break;
    case ANOMALY_ACK_FLOOD: snprintf(out, len, "MAMORI TCP ACK flood toward %s", v); break;
    case ANOMALY_RST_FLOOD: snprintf(out, len, "MAMORI TCP RST flood toward %s", v); break;
    case ANOMALY_SYNACK_REFLECTION:
        snprintf(out, len, "MAMORI TCP SYN-ACK reflection toward %s", v);
        break;
    case ANOMALY_UDP_FLOOD: snprintf(out, len, "MAMORI UDP flood toward %s", v); break;
    case ANOMALY_ICMP_FLOOD: snprintf(out, len, "MAMORI ICMP flood toward %s", v); break;
    case ANOMALY_AMPLIFICATION:
        name = service_name(o->refl_port);
        if (name == NULL) {
            snprintf(svc, sizeof(svc), "UDP/%u", o->refl_port);
            name = svc;
        }
        snprintf(out, len, "MAMORI %s amplification toward %s", name, v);
        break;
    case ANOMALY_FRAG_FLOOD: snprintf(out, len, "MAMORI IP fragment flood toward %s", v); break;
    case ANOMALY_PORT_SCAN: snprintf(out, len, "MAMORI port scan from %s against %s", s, v); break;
    case ANOMALY_HOST_SWEEP:
        snprintf(out, len, "MAMORI host sweep from %s on %s port %u", s,
                 o->proto == IPPROTO_UDP ? "UDP" : o->proto == IPPROTO_TCP ? "TCP" : "IP",
                 o->port);
        break;
    case ANOMALY_BRUTE_FORCE:
        name = service_name(o->port);
        snprintf(out, len, "MAMORI %s brute force from %s against %s port %u",
                 name ? name : "login", s, v, o->port);
        break;
    case ANOMALY_FLOW_SPIKE: snprintf(out, len, "MAMORI new-flow rate spike"); break;
    case ANOMALY_VOLUME_SPIKE: snprintf(out, len, "MAMORI traffic volume spike"); break;
    case ANOMALY_DST_FLOW_SPIKE: snprintf(out, len, "MAMORI new-flow spike toward %s", v); break;
    case ANOMALY_DST_VOLUME_SPIKE:
        snprintf(out, len, "MAMORI traffic volume spike toward %s", v);
        break;
    case ANOMALY_DECODE: snprintf(out, len, "MAMORI malformed packet rate spike"); break;
    default: snprintf(out, len, "MAMORI anomaly"); break;
    }
}

static void category(enum anomaly_detector d, const char **cat, uint8_t *sev)
{
    switch (d) {
    case ANOMALY_PORT_SCAN:
    case ANOMALY_HOST_SWEEP:
        *cat = "Detection of a Network Scan";
        *sev = 3;
        return;
    case ANOMALY_BRUTE_FORCE:
        *cat = "Attempted User Privilege Gain";
        *sev = 1;
        return;
    case ANOMALY_FLOW_SPIKE:
    case ANOMALY_VOLUME_SPIKE:
    case ANOMALY_DST_FLOW_SPIKE:
    case ANOMALY_DST_VOLUME_SPIKE:
    case ANOMALY_DECODE:
        *cat = "Potentially Bad Traffic";
        *sev = 2;
        return;
    default:
        *cat = "Attempted Denial of Service";
        *sev = 2;
        return;
    }
}

static void emit(struct anomaly_engine *e, const struct an_attack *a, enum anomaly_phase phase,
                 uint64_t tick)
{
    struct anomaly_alert al;

    memset(&al, 0, sizeof(al));
    al.phase = phase;
    al.detector = a->o.det;
    al.gid = ANOMALY_GID;
    al.sid = anomaly_detector_sid(a->o.det);
    al.rev = 1;
    signature(&a->o, al.signature, sizeof(al.signature));
    category(a->o.det, &al.category, &al.severity);
    al.attack_id = a->id;
    al.ts_ns = (tick + 1) * AN_NS;
    al.start_ns = a->first_tick * AN_NS;
    al.victim = a->o.victim;
    al.attacker = a->o.attacker;
    al.port = a->o.port;
    al.proto = a->o.proto;
    al.metric = a->o.metric;
    al.value = a->o.value;
    al.threshold = a->o.threshold;
    al.baseline_mean = a->o.mean;
    al.baseline_std = a->o.std;
    al.score = a->o.score;
    al.pps = a->o.pps;
    al.bps = a->o.bps;
    al.peak_pps = a->peak_pps;
    al.peak_bps = a->peak_bps;
    al.peak_value = a->peak_value;
    al.distinct_sources = (uint64_t)llround(a->o.distinct_sources);
    al.ticks = tick - a->first_tick + 1;
    al.n_top = a->n_top < ANOMALY_TOP_SOURCES ? a->n_top : ANOMALY_TOP_SOURCES;
    memcpy(al.top, a->top, al.n_top * sizeof(al.top[0]));
    e->counters[ANOMALY_ENGINE_ALERTS]++;
    if (e->fn)
        e->fn(e->ctx, &al);
}

/* Sources seen this tick join the attack's list: counts add up per address,
 * the list keeps the heaviest. */
static void merge_top(struct an_attack *a, const struct anomaly_source *src, unsigned n)
{
    const unsigned cap = sizeof(a->top) / sizeof(a->top[0]);

    for (unsigned i = 0; i < n; i++) {
        unsigned j;
        for (j = 0; j < a->n_top; j++)
            if (addr_eq(&a->top[j].addr, &src[i].addr))
                break;
        if (j < a->n_top) {
            a->top[j].count += src[i].count;
        } else if (a->n_top < cap) {
            a->top[a->n_top++] = src[i];
        } else {
            unsigned min = 0;
            for (j = 1; j < cap; j++)
                if (a->top[j].count < a->top[min].count)
                    min = j;
            if (src[i].count > a->top[min].count)
                a->top[min] = src[i];
        }
    }
    /* Sort descending: insertion sort over at most ten. */
    for (unsigned i = 1; i < a->n_top; i++) {
        struct anomaly_source t = a->top[i];
        unsigned j = i;
        while (j > 0 && a->top[j - 1].count < t.count) {
            a->top[j] = a->top[j - 1];
            j--;
        }
        a->top[j] = t;
    }
}

static bool victim_keyed(enum anomaly_detector d)
{
    return d <= ANOMALY_FRAG_FLOOD || d == ANOMALY_DST_FLOW_SPIKE ||
           d == ANOMALY_DST_VOLUME_SPIKE;
}

/* After a tick's detectors ran: starts, updates, ends. */
static void lifecycle(struct anomaly_engine *e, const struct an_snap *s, uint64_t tick)
{
    for (unsigned i = 0; i < e->cfg.max_active; i++) {
        struct an_attack *a = &e->attacks[i];
        if (!a->used)
            continue;
        if (a->last_obs == tick) {
            if (victim_keyed(a->o.det)) {
                struct anomaly_source top[ANOMALY_TOP_SOURCES * 2];
                unsigned n = an_top_sources(e, s, &a->o.victim, top, ANOMALY_TOP_SOURCES * 2);
                merge_top(a, top, n);
            } else if (a->o.attacker.version) {
                struct anomaly_source one = { a->o.attacker, (uint64_t)a->o.value };
                a->n_top = 0;
                merge_top(a, &one, 1);
            }
        } else {
            /* Below the threshold this tick: figures of a quiet tick. */
            a->o.value = a->o.pps = a->o.bps = a->o.score = 0;
        }
        if (!a->started) {
            if (a->last_above != tick) {
                a->used = false;     /* fell back before it started */
            } else if (a->above_run >= e->cfg.start_ticks) {
                a->started = true;
                a->id = attack_id(&a->o, a->first_tick);
                a->last_update = tick;
                e->counters[ANOMALY_ENGINE_ATTACKS]++;
                emit(e, a, ANOMALY_START, tick);
            }
            continue;
        }
        if (tick - a->last_above >= e->cfg.hold_s) {
            emit(e, a, ANOMALY_END, tick);
            a->used = false;
        } else if (tick - a->last_update >= e->cfg.update_s) {
            emit(e, a, ANOMALY_UPDATE, tick);
            a->last_update = tick;
        }
    }
}

/* ---- ticks ------------------------------------------------------------------------- */

static void evaluate(struct anomaly_engine *e, uint64_t tick)
{
    if (e->hook)
        e->hook(e->hook_ctx, tick, e->merged, &e->dims);
    an_detect_tick(e, e->merged, tick);
    lifecycle(e, e->merged, tick);
    e->counters[ANOMALY_ENGINE_TICKS]++;
}

/* Merge every worker's snapshot of `tick` into e->merged. The first one is
 * taken whole: its buffer becomes the merge buffer, and the previous merge
 * buffer (cleared) goes to that worker instead. */
static bool collect(struct anomaly_engine *e, uint64_t tick)
{
    bool any = false;

    if (e->merged_dirty) {
        an_snap_clear(e->merged);
        e->merged_dirty = false;
    }
    for (unsigned i = 0; i < e->nworkers; i++) {
        struct anomaly_worker *aw = e->workers[i];
        struct an_snap *s;
        while ((s = an_ring_peek(&aw->published)) != NULL && s->tick <= tick) {
            an_ring_pop(&aw->published);
            if (s->tick < tick) {
                e->counters[ANOMALY_ENGINE_SNAPSHOTS_LATE]++;
                an_worker_release(aw, s);
                continue;
            }
            /* Merged into the engine's own buffer, every snapshot goes back
             * to the worker it came from: handing a worker another's buffer
             * could overflow its free ring and lose the buffer, until a
             * lossless worker waited forever for one. */
            an_snap_merge(e->merged, s, &e->dims);
            an_worker_release(aw, s);
            any = true;
        }
    }
    e->merged->tick = tick;
    e->merged_dirty = any;
    e->counters[ANOMALY_ENGINE_EVENTS_SKIPPED] += e->merged->tot.events_skipped;
    return any;
}

/* The smallest tick some worker has published and the engine not taken. */
static uint64_t next_published(struct anomaly_engine *e)
{
    uint64_t t = AN_NO_TICK;
    for (unsigned i = 0; i < e->nworkers; i++) {
        struct an_snap *s = an_ring_peek(&e->workers[i]->published);
        if (s != NULL && s->tick < t)
            t = s->tick;
    }
    return t;
}

/* Where to go on after a run of empty ticks from t: the next published
 * snapshot, or the first tick a worker can still fill (lo), or the last
 * tick max_wait_ticks lets us evaluate ahead of a worker (hi) - whichever
 * comes first after t. Walking the empty ticks one by one instead could
 * take years of seconds when two workers' packet clocks are years apart
 * (two captures, or a live port beside a replayed one). */
static uint64_t skip_empty_ticks(const struct anomaly_engine *e, uint64_t t, uint64_t pub,
                                 uint64_t lo, uint64_t hi)
{
    uint64_t next = AN_NO_TICK;
    if (pub != AN_NO_TICK && pub > t)
        next = pub;
    if (lo != UINT64_MAX && lo > t && lo < next)
        next = lo;
    if (e->cfg.max_wait_ticks > 0 && hi >= e->cfg.max_wait_ticks) {
        uint64_t ahead = hi + 1 - e->cfg.max_wait_ticks;
        if (ahead > t && ahead < next)
            next = ahead;
    }
    return next != AN_NO_TICK ? next : t + 1;
}

static unsigned poll_ticks(struct anomaly_engine *e, bool ending)
{
    unsigned done = 0;

    for (;;) {
        uint64_t lo = UINT64_MAX, hi = 0;
        for (unsigned i = 0; i < e->nworkers; i++) {
            uint64_t d = atomic_load_explicit(&e->workers[i]->done_tick, memory_order_acquire);
            lo = d < lo ? d : lo;
            if (d != UINT64_MAX && d > hi)
                hi = d;
        }
        uint64_t pub = next_published(e);
        if (e->next_tick == AN_NO_TICK) {
            if (pub == AN_NO_TICK)
                return done;
            /* Offline, wait until every worker has started (done_tick 0:
             * not yet): one behind the others may still publish ticks
             * before the first published, which would then be late. */
            if (e->cfg.lossless && lo == 0 && !ending)
                return done;
            /* Start at the oldest tick published or still open. */
            e->next_tick = lo != 0 && lo < pub ? lo : pub;
        }
        uint64_t t = e->next_tick;
        /* Nothing published and nothing more coming: stop, rather than
         * evaluate empty ticks forever. */
        if (pub == AN_NO_TICK && (ending || lo == UINT64_MAX))
            return done;
        bool ready = lo > t || ending ||
                     (e->cfg.max_wait_ticks > 0 && hi >= t + e->cfg.max_wait_ticks);
        if (!ready)
            return done;
        if (collect(e, t)) {
            e->empty_run = 0;
        } else {
            /* No worker saw anything in t. Let hold times run out, then
             * jump to the next tick that has something. */
            e->counters[ANOMALY_ENGINE_TICKS_EMPTY]++;
            if (++e->empty_run > e->cfg.hold_s + AN_EMPTY_TICKS_MAX) {
                e->next_tick = skip_empty_ticks(e, t, pub, lo, hi);
                e->empty_run = 0;
                continue;
            }
        }
        evaluate(e, t);
        e->next_tick = t + 1;
        done++;
    }
}

bool anomaly_engine_wanted(const struct anomaly_engine *e)
{
    for (unsigned i = 0; i < e->nworkers; i++) {
        struct anomaly_worker *aw = e->workers[i];
        if (atomic_load_explicit(&aw->starved, memory_order_relaxed))
            return true;
        /* Live, a published tick may wait for a quiet worker's clock:
         * no reason to spin for it. */
        if (aw->lossless && an_ring_peek(&aw->published) != NULL)
            return true;
    }
    return false;
}

unsigned anomaly_engine_poll(struct anomaly_engine *e)
{
    return poll_ticks(e, false);
}

void anomaly_engine_finish(struct anomaly_engine *e)
{
    poll_ticks(e, true);
    uint64_t tick = e->next_tick == AN_NO_TICK ? 0 : e->next_tick - 1;
    for (unsigned i = 0; i < e->cfg.max_active; i++) {
        struct an_attack *a = &e->attacks[i];
        if (a->used && a->started)
            emit(e, a, ANOMALY_END, tick);
        a->used = false;
    }
}
