/* ctl_commands.c - the sensor's control commands (see ctl_commands.h and
 * CONTROL.md). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ctl_commands.h"
#include "reload.h"
#include "mamori_version.h"
#include "sensor.h"
#include "stats.h"

/* Attacks followed for "top talkers": the engine follows at most
 * max_active (256 by default) at once. */
#define ATTACKS_MAX 512
#define TOP_TALKERS_DEFAULT 10
#define TOP_TALKERS_MAX 1000
#define RULE_SKIP_KEYS 32
#define RULE_ERRORS_SHOWN 20

struct attack {
    uint64_t id;
    enum anomaly_detector detector;
    struct anomaly_addr victim, attacker;
    uint16_t port;
    uint8_t proto;
    double pps, bps, value, threshold;
    uint64_t start_ns, ts_ns;
    unsigned n_top;
    struct anomaly_source top[ANOMALY_TOP_SOURCES];
};

struct ctl_commands {
    struct sensor *s;
    struct attack attacks[ATTACKS_MAX];
    unsigned n_attacks;
    uint64_t attacks_unfollowed;     /* table full */
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- stats, version, shutdown -------------------------------------------- */

static int cmd_stats(void *ctx, json_t *args, json_t **reply, char *err, size_t errlen)
{
    struct ctl_commands *cc = ctx;
    (void)args, (void)err, (void)errlen;

    json_t *stats = sensor_stats(cc->s);
    if (cc->s->ctl != NULL) {
        for (unsigned i = 0; i < CTL_SERVER_COUNTER_COUNT; i++)
            stats_add(stats, ctl_server_counter_name(i), ctl_server_counter(cc->s->ctl, i));
        stats_add(stats, "ctl.clients", ctl_server_clients(cc->s->ctl));
    }
    *reply = stats;
    return 0;
}

static int cmd_version(void *ctx, json_t *args, json_t **reply, char *err, size_t errlen)
{
    struct ctl_commands *cc = ctx;
    struct timespec now;
    (void)args, (void)err, (void)errlen;

    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
    json_t *v = json_object();
    json_object_set_new(v, "version", json_string(MAMORI_VERSION));
    json_object_set_new(v, "dpdk", json_string(MAMORI_DPDK_VERSION));
    if (cc->s->capture != NULL)
        json_object_set_new(v, "capture", json_string(cc->s->capture->ops->name));
    json_object_set_new(v, "workers", json_integer(cc->s->n_workers));
    json_object_set_new(v, "uptime", json_integer(cc->s->started_ns && now_ns > cc->s->started_ns
                                                      ? (json_int_t)((now_ns - cc->s->started_ns) / 1000000000ull)
                                                      : 0));
    *reply = v;
    return 0;
}

static int cmd_shutdown(void *ctx, json_t *args, json_t **reply, char *err, size_t errlen)
{
    (void)ctx, (void)args, (void)err, (void)errlen;
    sensor_request_stop();
    *reply = json_string("shutting down: live flows are logged, then mamori exits");
    return 0;
}

/* ---- rules ----------------------------------------------------------------- */

static json_t *engine_json(const struct engine_stats *es)
{
    json_t *e = json_object();

    json_object_set_new(e, "rules_compiled", json_integer(es->rules_compiled));
    json_object_set_new(e, "rules_dropped", json_integer(es->rules_dropped));
    json_object_set_new(e, "rules_prefiltered", json_integer(es->rules_prefiltered));
    json_object_set_new(e, "rules_always", json_integer(es->rules_always));
    json_object_set_new(e, "databases", json_integer(es->databases));
    json_object_set_new(e, "patterns", json_integer(es->patterns));
    json_object_set_new(e, "database_bytes", json_integer((json_int_t)es->db_bytes));
    json_object_set_new(e, "pcres", json_integer(es->pcres));
    json_object_set_new(e, "pcres_jit", json_integer(es->pcres_jit));
    json_object_set_new(e, "compile_ms", json_real(es->compile_ms));
    json_object_set_new(e, "hs_compile_ms", json_real(es->hs_compile_ms));
    json_object_set_new(e, "cache_hits", json_integer(es->cache_hits));
    json_object_set_new(e, "cache_stores", json_integer(es->cache_stores));
    return e;
}

static int cmd_rules_stats(void *ctx, json_t *args, json_t **reply, char *err, size_t errlen)
{
    struct ctl_commands *cc = ctx;
    const struct loaded_rules *lr = cc->s->rules;
    (void)args, (void)err, (void)errlen;

    json_t *r = json_object();
    if (lr == NULL) {
        json_object_set_new(r, "loaded", json_integer(0));
        json_object_set_new(r, "skipped", json_integer(0));
        json_object_set_new(r, "failed", json_integer(0));
        json_object_set_new(r, "files", json_array());
        *reply = r;
        return 0;
    }
    const struct ruleset *rs = &lr->rs;
    const struct engine_stats *es = engine_stats(lr->engine);
    struct ruleset_skip skips[RULE_SKIP_KEYS];
    uint32_t n_skips = ruleset_top_skips(rs, skips, RULE_SKIP_KEYS);

    json_object_set_new(r, "loaded", json_integer(rs->loaded));
    json_object_set_new(r, "skipped", json_integer(rs->skipped));
    /* Failed: rejected by the parser, plus those the engine could not compile. */
    json_object_set_new(r, "failed", json_integer(rs->failed + es->rules_dropped));
    json_object_set_new(r, "commented", json_integer(rs->commented));
    json_t *by = json_object();
    for (uint32_t i = 0; i < n_skips; i++)
        json_object_set_new(by, skips[i].key, json_integer(skips[i].count));
    json_object_set_new(r, "skipped_by", by);
    json_t *errors = json_array();
    for (uint32_t i = 0; i < rs->n_errors && i < RULE_ERRORS_SHOWN; i++)
        json_array_append_new(errors, json_string(rs->errors[i]));
    for (uint32_t i = 0; i < es->n_errors && json_array_size(errors) < RULE_ERRORS_SHOWN; i++)
        json_array_append_new(errors, json_string(engine_error(lr->engine, i)));
    json_object_set_new(r, "errors", errors);
    json_t *files = json_array();
    for (uint32_t i = 0; i < rs->n_files; i++) {
        json_t *f = json_object();
        json_object_set_new(f, "path", json_string(rs->files[i].path));
        json_object_set_new(f, "loaded", json_integer(rs->files[i].loaded));
        json_object_set_new(f, "skipped", json_integer(rs->files[i].skipped));
        json_object_set_new(f, "failed", json_integer(rs->files[i].failed));
        json_array_append_new(files, f);
    }
    json_object_set_new(r, "files", files);
    json_object_set_new(r, "engine", engine_json(es));
    *reply = r;
    return 0;
}

/* Start a live reload (reload.h): {files: [...]} (default: the running
 * set's files), {strict: true} to refuse a set with a bad rule. The reply
 * comes when the build has started; `rules stats` and the log tell how it
 * ended. */
static int cmd_rules_reload(void *ctx, json_t *args, json_t **reply, char *err, size_t errlen)
{
    struct ctl_commands *cc = ctx;
    json_t *files = json_object_get(args, "files");
    const char *list[64];
    unsigned n = 0;

    if (files != NULL && !json_is_array(files))
        return fail(err, errlen, "files: expected a list of rule file paths");
    for (size_t i = 0; files != NULL && i < json_array_size(files); i++) {
        const char *f = json_string_value(json_array_get(files, i));
        if (f == NULL || n == sizeof(list) / sizeof(list[0]))
            return fail(err, errlen, "files: at most 64 paths, each a string");
        list[n++] = f;
    }
    bool strict = json_is_true(json_object_get(args, "strict")) || cc->s->opts->strict_rules;
    if (rule_reload_start(cc->s, list, n, strict, err, errlen) < 0)
        return -1;
    *reply = json_string("rule reload started");
    return 0;
}

/* ---- detectors ------------------------------------------------------------- */

enum param_type { P_BOOL, P_DOUBLE, P_UINT };

/* One tunable value of struct anomaly_config, by its offset. */
struct param {
    const char *key;
    enum param_type type;
    size_t offset;
    double min, max;
};

#define CFG(field) offsetof(struct anomaly_config, field)
#define RATE_PARAMS(f) \
    { "enabled", P_BOOL, CFG(f.enabled), 0, 1 }, \
    { "pps", P_DOUBLE, CFG(f.pps), 0, 1e12 }, \
    { "bps", P_DOUBLE, CFG(f.bps), 0, 1e15 }, \
    { "z", P_DOUBLE, CFG(f.z), 0, 1e6 }, \
    { "ratio", P_DOUBLE, CFG(f.ratio), 0, 1e6 }
#define SCAN_PARAMS(f) \
    { "enabled", P_BOOL, CFG(f.enabled), 0, 1 }, \
    { "score", P_DOUBLE, CFG(f.score), 0, 1e9 }, \
    { "success_weight", P_DOUBLE, CFG(f.success_weight), 0, 1e6 }, \
    { "fail_weight", P_DOUBLE, CFG(f.fail_weight), 0, 1e6 }, \
    { "window", P_UINT, CFG(f.window), 1, 16 }
#define SPIKE_PARAMS(f) \
    { "enabled", P_BOOL, CFG(f.enabled), 0, 1 }, \
    { "new_flows", P_DOUBLE, CFG(f.new_flows), 0, 1e12 }, \
    { "bps", P_DOUBLE, CFG(f.bps), 0, 1e15 }, \
    { "cusum_k", P_DOUBLE, CFG(f.cusum_k), 0, 1e6 }, \
    { "cusum_h", P_DOUBLE, CFG(f.cusum_h), 0, 1e6 }, \
    { "ratio", P_DOUBLE, CFG(f.ratio), 0, 1e6 }
#define END_PARAMS { NULL, P_BOOL, 0, 0, 0 }

static const struct param p_syn_flood[] = {
    RATE_PARAMS(th.syn_flood),
    { "completion_max", P_DOUBLE, CFG(th.syn_completion_max), 0, 1 }, END_PARAMS };
static const struct param p_syn_ecn[] = { RATE_PARAMS(th.syn_ecn_flood), END_PARAMS };
static const struct param p_ack[] = { RATE_PARAMS(th.ack_flood), END_PARAMS };
static const struct param p_rst[] = { RATE_PARAMS(th.rst_flood), END_PARAMS };
static const struct param p_synack[] = { RATE_PARAMS(th.synack_reflection), END_PARAMS };
static const struct param p_udp[] = { RATE_PARAMS(th.udp_flood), END_PARAMS };
static const struct param p_icmp[] = { RATE_PARAMS(th.icmp_flood), END_PARAMS };
static const struct param p_amp[] = {
    RATE_PARAMS(th.amplification),
    { "min_sources", P_DOUBLE, CFG(th.amplification_min_sources), 0, 1e9 }, END_PARAMS };
static const struct param p_frag[] = { RATE_PARAMS(th.frag_flood), END_PARAMS };
static const struct param p_port_scan[] = { SCAN_PARAMS(th.port_scan), END_PARAMS };
static const struct param p_host_sweep[] = { SCAN_PARAMS(th.host_sweep), END_PARAMS };
static const struct param p_brute[] = {
    { "enabled", P_BOOL, CFG(th.brute_force.enabled), 0, 1 },
    { "attempts", P_DOUBLE, CFG(th.brute_force.attempts), 0, 1e9 },
    { "window", P_UINT, CFG(th.brute_force.window), 1, 64 }, END_PARAMS };
static const struct param p_flow_spike[] = { SPIKE_PARAMS(flow_spike), END_PARAMS };
static const struct param p_volume_spike[] = { SPIKE_PARAMS(volume_spike), END_PARAMS };
static const struct param p_dst_spike[] = { SPIKE_PARAMS(th.dst_spike), END_PARAMS };
static const struct param p_decode[] = { RATE_PARAMS(decode), END_PARAMS };

/* Indexed by enum anomaly_detector. */
static const struct detector_desc {
    const struct param *params;
    const char *note;
} detectors[ANOMALY_DETECTOR_COUNT] = {
    [ANOMALY_SYN_FLOOD] = { p_syn_flood, NULL },
    [ANOMALY_SYN_ECN_FLOOD] = { p_syn_ecn, NULL },
    [ANOMALY_ACK_FLOOD] = { p_ack, NULL },
    [ANOMALY_RST_FLOOD] = { p_rst, NULL },
    [ANOMALY_SYNACK_REFLECTION] = { p_synack, NULL },
    [ANOMALY_UDP_FLOOD] = { p_udp, NULL },
    [ANOMALY_ICMP_FLOOD] = { p_icmp, NULL },
    [ANOMALY_AMPLIFICATION] = { p_amp, NULL },
    [ANOMALY_FRAG_FLOOD] = { p_frag, NULL },
    [ANOMALY_PORT_SCAN] = { p_port_scan, NULL },
    [ANOMALY_HOST_SWEEP] = { p_host_sweep, NULL },
    [ANOMALY_BRUTE_FORCE] = { p_brute, NULL },
    [ANOMALY_FLOW_SPIKE] = { p_flow_spike, "global: all traffic" },
    [ANOMALY_VOLUME_SPIKE] = { p_volume_spike, "global: all traffic" },
    [ANOMALY_DST_FLOW_SPIKE] = { p_dst_spike, "shares its settings with dst_volume_spike" },
    [ANOMALY_DST_VOLUME_SPIKE] = { p_dst_spike, "shares its settings with dst_flow_spike" },
    [ANOMALY_DECODE] = { p_decode, "global: all traffic" },
};

static json_t *param_json(const struct anomaly_config *cfg, const struct param *p)
{
    const char *field = (const char *)cfg + p->offset;

    switch (p->type) {
    case P_BOOL:
        return json_boolean(*(const bool *)field);
    case P_UINT:
        return json_integer(*(const unsigned *)field);
    case P_DOUBLE:
    default:
        return json_real(*(const double *)field);
    }
}

static json_t *detector_json(const struct anomaly_config *cfg, enum anomaly_detector d)
{
    json_t *o = json_object(), *settings = json_object();

    json_object_set_new(o, "name", json_string(anomaly_detector_name(d)));
    json_object_set_new(o, "sid", json_integer(anomaly_detector_sid(d)));
    for (const struct param *p = detectors[d].params; p->key != NULL; p++)
        json_object_set_new(settings, p->key, param_json(cfg, p));
    json_object_set_new(o, "enabled", json_incref(json_object_get(settings, "enabled")));
    json_object_set_new(o, "settings", settings);
    if (detectors[d].note != NULL)
        json_object_set_new(o, "note", json_string(detectors[d].note));
    return o;
}

/* The anomaly engine and its configuration, or -1 with why not. */
static int anomaly_ready(const struct ctl_commands *cc, char *err, size_t errlen)
{
    if (cc->s->anomaly == NULL || cc->s->anomaly_cfg == NULL)
        return fail(err, errlen, "the statistical detectors are off (--no-anomaly)");
    return 0;
}

static int cmd_detectors(void *ctx, json_t *args, json_t **reply, char *err, size_t errlen)
{
    struct ctl_commands *cc = ctx;
    (void)args;

    if (anomaly_ready(cc, err, errlen) < 0)
        return -1;
    const struct anomaly_config *cfg = cc->s->anomaly_cfg;
    json_t *list = json_array(), *groups = json_array();
    for (unsigned d = 0; d < ANOMALY_DETECTOR_COUNT; d++)
        json_array_append_new(list, detector_json(cfg, d));
    for (unsigned i = 0; i < cfg->n_groups; i++)
        json_array_append_new(groups, json_string(cfg->groups[i].name));
    json_t *r = json_object();
    json_object_set_new(r, "detectors", list);
    json_object_set_new(r, "host_groups", groups);
    *reply = r;
    return 0;
}

/* The "name" (and "key") arguments resolved, or -1 with a message naming
 * what was wrong and what would be right. */
static int find_param(json_t *args, bool need_key, enum anomaly_detector *det,
                      const struct param **param, char *err, size_t errlen)
{
    const char *name = json_string_value(json_object_get(args, "name"));
    const char *key = json_string_value(json_object_get(args, "key"));

    if (name == NULL)
        return fail(err, errlen, "give the detector: \"arguments\":{\"name\":\"syn_flood\",...}");
    *det = ANOMALY_DETECTOR_COUNT;
    for (unsigned d = 0; d < ANOMALY_DETECTOR_COUNT; d++)
        if (strcmp(anomaly_detector_name(d), name) == 0)
            *det = d;
    if (*det == ANOMALY_DETECTOR_COUNT)
        return fail(err, errlen, "unknown detector '%s' (\"detectors\" lists them)", name);
    *param = NULL;
    if (key == NULL)
        return need_key ? fail(err, errlen, "give the setting: \"key\"") : 0;
    char keys[256] = "";
    for (const struct param *p = detectors[*det].params; p->key != NULL; p++) {
        if (strcmp(p->key, key) == 0)
            *param = p;
        snprintf(keys + strlen(keys), sizeof(keys) - strlen(keys), "%s%s",
                 keys[0] ? ", " : "", p->key);
    }
    if (*param == NULL)
        return fail(err, errlen, "%s has no setting '%s' (it has: %s)", name, key, keys);
    return 0;
}

/* A JSON value or its text, checked against the parameter's type and range. */
static int parse_value(const struct param *p, json_t *v, double *out, char *err, size_t errlen)
{
    const char *text = json_string_value(v);
    char *end;

    if (p->type == P_BOOL) {
        if (json_is_boolean(v))
            *out = json_is_true(v);
        else if (text && (!strcasecmp(text, "true") || !strcasecmp(text, "on") ||
                          !strcasecmp(text, "yes") || !strcmp(text, "1")))
            *out = 1;
        else if (text && (!strcasecmp(text, "false") || !strcasecmp(text, "off") ||
                          !strcasecmp(text, "no") || !strcmp(text, "0")))
            *out = 0;
        else
            return fail(err, errlen, "%s takes true or false", p->key);
        return 0;
    }
    if (json_is_number(v)) {
        *out = json_number_value(v);
    } else if (text != NULL && *text != '\0') {
        errno = 0;
        *out = strtod(text, &end);
        if (errno != 0 || *end != '\0')
            return fail(err, errlen, "%s: '%s' is not a number", p->key, text);
    } else {
        return fail(err, errlen, "give the new value: \"value\"");
    }
    if (!isfinite(*out) || *out < p->min || *out > p->max)
        return fail(err, errlen, "%s: %g is out of range [%g, %g]", p->key, *out, p->min, p->max);
    if (p->type == P_UINT && *out != floor(*out))
        return fail(err, errlen, "%s: %g is not a whole number", p->key, *out);
    return 0;
}

static void param_store(struct anomaly_config *cfg, const struct param *p, double v)
{
    char *field = (char *)cfg + p->offset;

    if (p->type == P_BOOL)
        *(bool *)field = v != 0;
    else if (p->type == P_UINT)
        *(unsigned *)field = (unsigned)v;
    else
        *(double *)field = v;
}

static int cmd_detector_get(void *ctx, json_t *args, json_t **reply, char *err, size_t errlen)
{
    struct ctl_commands *cc = ctx;
    enum anomaly_detector d;
    const struct param *p;

    if (anomaly_ready(cc, err, errlen) < 0 || find_param(args, false, &d, &p, err, errlen) < 0)
        return -1;
    if (p == NULL) {
        *reply = detector_json(cc->s->anomaly_cfg, d);
        return 0;
    }
    json_t *r = json_object();
    json_object_set_new(r, "name", json_string(anomaly_detector_name(d)));
    json_object_set_new(r, "key", json_string(p->key));
    json_object_set_new(r, "value", param_json(cc->s->anomaly_cfg, p));
    *reply = r;
    return 0;
}

/* Change one setting on a copy, have the engine check and take it (from
 * the next tick it evaluates), and only then keep the copy. */
static int cmd_detector_set(void *ctx, json_t *args, json_t **reply, char *err, size_t errlen)
{
    struct ctl_commands *cc = ctx;
    enum anomaly_detector d;
    const struct param *p;
    double v = 0;

    if (anomaly_ready(cc, err, errlen) < 0 || find_param(args, true, &d, &p, err, errlen) < 0 ||
        parse_value(p, json_object_get(args, "value"), &v, err, errlen) < 0)
        return -1;
    struct anomaly_config *next = malloc(sizeof(*next));
    if (next == NULL)
        return fail(err, errlen, "out of memory");
    *next = *cc->s->anomaly_cfg;
    json_t *old = param_json(next, p);
    param_store(next, p, v);
    if (anomaly_engine_reconfigure(cc->s->anomaly, next) < 0) {
        free(next);
        json_decref(old);
        return fail(err, errlen, "the anomaly engine refused %s.%s = %g", anomaly_detector_name(d),
                    p->key, v);
    }
    *cc->s->anomaly_cfg = *next;
    free(next);
    json_t *r = json_object();
    json_object_set_new(r, "name", json_string(anomaly_detector_name(d)));
    json_object_set_new(r, "key", json_string(p->key));
    json_object_set_new(r, "old", old);
    json_object_set_new(r, "value", param_json(cc->s->anomaly_cfg, p));
    json_object_set_new(r, "effective", json_string("next tick"));
    *reply = r;
    return 0;
}

/* ---- top talkers: the heaviest sources of the active attacks -------------- */

static struct attack *find_attack(struct ctl_commands *cc, uint64_t id)
{
    for (unsigned i = 0; i < cc->n_attacks; i++)
        if (cc->attacks[i].id == id)
            return &cc->attacks[i];
    return NULL;
}

void ctl_commands_note_anomaly(struct ctl_commands *cc, const struct anomaly_alert *a)
{
    struct attack *t;

    if (cc == NULL)
        return;
    t = find_attack(cc, a->attack_id);
    if (a->phase == ANOMALY_END) {
        if (t != NULL)
            *t = cc->attacks[--cc->n_attacks];
        return;
    }
    if (t == NULL) {
        if (cc->n_attacks == ATTACKS_MAX) {
            cc->attacks_unfollowed++;
            return;
        }
        t = &cc->attacks[cc->n_attacks++];
    }
    *t = (struct attack){
        .id = a->attack_id, .detector = a->detector, .victim = a->victim,
        .attacker = a->attacker, .port = a->port, .proto = a->proto, .pps = a->pps,
        .bps = a->bps, .value = a->value, .threshold = a->threshold,
        .start_ns = a->start_ns, .ts_ns = a->ts_ns, .n_top = a->n_top,
    };
    memcpy(t->top, a->top, sizeof(t->top));
}

struct talker {
    struct anomaly_addr addr;
    uint64_t count;
    unsigned attacks;
    json_t *detectors;           /* names, each once */
};

static json_t *addr_json(const struct anomaly_addr *a)
{
    char buf[64];

    if (a->version == 0)
        return json_null();
    eve_format_addr(a->addr, a->version, buf, sizeof(buf));
    return json_string(buf);
}

static int by_count_desc(const void *x, const void *y)
{
    const struct talker *a = x, *b = y;
    return a->count < b->count ? 1 : a->count > b->count ? -1 : 0;
}

static void add_talker(struct talker *list, unsigned *n, const struct anomaly_addr *addr,
                       uint64_t count, const char *detector)
{
    struct talker *t = NULL;

    for (unsigned i = 0; i < *n && t == NULL; i++)
        if (list[i].addr.version == addr->version && !memcmp(list[i].addr.addr, addr->addr, 16))
            t = &list[i];
    if (t == NULL) {
        t = &list[(*n)++];
        *t = (struct talker){ .addr = *addr, .detectors = json_array() };
    }
    t->count += count;
    t->attacks++;
    size_t i;
    json_t *name;
    json_array_foreach(t->detectors, i, name)
        if (strcmp(json_string_value(name), detector) == 0)
            return;
    json_array_append_new(t->detectors, json_string(detector));
}

static json_t *attack_json(const struct attack *t)
{
    char ts[48];
    json_t *o = json_object();

    json_object_set_new(o, "attack_id", json_integer((json_int_t)t->id));
    json_object_set_new(o, "detector", json_string(anomaly_detector_name(t->detector)));
    json_object_set_new(o, "victim", addr_json(&t->victim));
    json_object_set_new(o, "attacker", addr_json(&t->attacker));
    if (t->port)
        json_object_set_new(o, "port", json_integer(t->port));
    json_object_set_new(o, "pps", json_real(t->pps));
    json_object_set_new(o, "bps", json_real(t->bps));
    eve_format_timestamp(t->start_ns, ts, sizeof(ts));
    json_object_set_new(o, "since", json_string(ts));
    return o;
}

static int parse_count(json_t *v, unsigned *n, char *err, size_t errlen)
{
    const char *text = json_string_value(v);
    char *end;
    long long x;

    if (v == NULL)
        return 0;
    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (text != NULL) {
        errno = 0;
        x = strtoll(text, &end, 10);
        if (errno != 0 || end == text || *end != '\0')
            x = -1;
    } else {
        x = -1;
    }
    if (x < 1 || x > TOP_TALKERS_MAX)
        return fail(err, errlen, "n: give a whole number from 1 to %d", TOP_TALKERS_MAX);
    *n = (unsigned)x;
    return 0;
}

static int cmd_top_talkers(void *ctx, json_t *args, json_t **reply, char *err, size_t errlen)
{
    struct ctl_commands *cc = ctx;
    unsigned want = TOP_TALKERS_DEFAULT, n = 0;

    if (anomaly_ready(cc, err, errlen) < 0 ||
        parse_count(json_object_get(args, "n"), &want, err, errlen) < 0)
        return -1;
    struct talker *list = calloc((size_t)cc->n_attacks * (ANOMALY_TOP_SOURCES + 1) + 1,
                                 sizeof(*list));
    if (list == NULL)
        return fail(err, errlen, "out of memory");
    json_t *attacks = json_array();
    for (unsigned i = 0; i < cc->n_attacks; i++) {
        const struct attack *t = &cc->attacks[i];
        const char *det = anomaly_detector_name(t->detector);
        json_array_append_new(attacks, attack_json(t));
        for (unsigned k = 0; k < t->n_top && k < ANOMALY_TOP_SOURCES; k++)
            add_talker(list, &n, &t->top[k].addr, t->top[k].count, det);
        if (t->n_top == 0 && t->attacker.version != 0)   /* a scan's single source */
            add_talker(list, &n, &t->attacker, 1, det);
    }
    qsort(list, n, sizeof(*list), by_count_desc);
    json_t *talkers = json_array();
    for (unsigned i = 0; i < n; i++) {
        if (i < want) {
            json_t *o = json_object();
            json_object_set_new(o, "src_ip", addr_json(&list[i].addr));
            json_object_set_new(o, "count", json_integer((json_int_t)list[i].count));
            json_object_set_new(o, "attacks", json_integer(list[i].attacks));
            json_object_set_new(o, "detectors", list[i].detectors);
            json_array_append_new(talkers, o);
        } else {
            json_decref(list[i].detectors);
        }
    }
    free(list);
    json_t *r = json_object();
    json_object_set_new(r, "source", json_string("active attacks of the statistical detectors"));
    json_object_set_new(r, "talkers", talkers);
    json_object_set_new(r, "attacks", attacks);
    if (cc->attacks_unfollowed)
        json_object_set_new(r, "attacks_unfollowed", json_integer((json_int_t)cc->attacks_unfollowed));
    *reply = r;
    return 0;
}

/* ---- log reopen -------------------------------------------------------------- */

static int cmd_log_reopen(void *ctx, json_t *args, json_t **reply, char *err, size_t errlen)
{
    struct ctl_commands *cc = ctx;
    (void)args;

    if (eve_reopen(cc->s->eve, err, errlen) < 0)
        return -1;
    *reply = json_string("EVE log reopened");
    return 0;
}

/* ---- registration ------------------------------------------------------------ */

static const struct {
    const char *name;
    ctl_command_fn fn;
    const char *help;
} commands[] = {
    { "stats", cmd_stats, "every counter of the sensor, as in the EVE stats event" },
    { "version", cmd_version, "mamori and DPDK versions, capture, workers, uptime" },
    { "shutdown", cmd_shutdown, "stop the sensor cleanly (as SIGTERM does)" },
    { "rules stats", cmd_rules_stats, "rules loaded, skipped by keyword, failed; engine figures" },
    { "rules reload", cmd_rules_reload, "reload the rules {files: [...], strict: bool}: compiled off the workers, swapped live" },
    { "detectors", cmd_detectors, "each statistical detector with its current settings" },
    { "detector get", cmd_detector_get, "one detector's settings {name[, key]}" },
    { "detector set", cmd_detector_set, "change a setting {name, key, value}, from the next tick" },
    { "top talkers", cmd_top_talkers, "heaviest sources of the active attacks {n: 10}" },
    { "log reopen", cmd_log_reopen, "reopen the EVE log file (after logrotate moved it)" },
};

struct ctl_commands *ctl_commands_create(struct ctl_server *srv, struct sensor *s,
                                         char *err, size_t errlen)
{
    struct ctl_commands *cc = calloc(1, sizeof(*cc));

    if (cc == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    cc->s = s;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (ctl_server_register(srv, commands[i].name, commands[i].fn, cc, commands[i].help) < 0) {
            snprintf(err, errlen, "control command %s: cannot register", commands[i].name);
            free(cc);
            return NULL;
        }
    }
    if (ctl_server_register_stream(srv, "alerts tail", "alerts",
                                   "stream every alert logged from now on (EVE JSON lines)") < 0) {
        snprintf(err, errlen, "control command alerts tail: cannot register");
        free(cc);
        return NULL;
    }
    return cc;
}

void ctl_commands_destroy(struct ctl_commands *cc)
{
    free(cc);
}
