/* test_config.c - the YAML configuration file (control/config.c): every key
 * lands in its field, errors name file, line, key, value and why, the
 * command line overrides the file, --dump-config loads back to the same
 * configuration, and the shipped mamori.yaml loads and states the defaults.
 * The last cases run the real mamori with -c and --dump-config. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "cunit_run.h"
#include "e2e.h"
#include "options.h"

#define ERRLEN 1024

static char *tmpdir;

static const char *tmp_path(const char *name)
{
    static char path[4096];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    return path;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

/* Defaults, then the YAML text (written to tmp/name) over them. */
static int load_text(struct mamori_options *o, const char *name, const char *yaml, char *err)
{
    write_file(tmp_path(name), yaml);
    config_defaults(o);
    err[0] = '\0';
    return config_load(o, tmp_path(name), err, ERRLEN);
}

/* The dump of o as a malloc'd string. */
static char *dump(const struct mamori_options *o)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    config_dump(o, f);
    fclose(f);
    return text;
}

/* ---- every key ----------------------------------------------------------------- */

/* The per-host detectors as the test knows them, independent of config.c. */
static const struct { const char *name; size_t off; } rate_detectors[] = {
    { "syn-flood", offsetof(struct anomaly_thresholds, syn_flood) },
    { "syn-ecn-flood", offsetof(struct anomaly_thresholds, syn_ecn_flood) },
    { "ack-flood", offsetof(struct anomaly_thresholds, ack_flood) },
    { "rst-flood", offsetof(struct anomaly_thresholds, rst_flood) },
    { "synack-reflection", offsetof(struct anomaly_thresholds, synack_reflection) },
    { "udp-flood", offsetof(struct anomaly_thresholds, udp_flood) },
    { "icmp-flood", offsetof(struct anomaly_thresholds, icmp_flood) },
    { "amplification", offsetof(struct anomaly_thresholds, amplification) },
    { "frag-flood", offsetof(struct anomaly_thresholds, frag_flood) },
};
#define N_RATE (sizeof(rate_detectors) / sizeof(rate_detectors[0]))

static const char every_key_head[] =
    "vars:\n"
    "  address-groups:\n"
    "    HOME_NET: \"[10.0.0.0/8]\"\n"
    "    DMZ_NET: \"[192.0.2.0/24,$HOME_NET]\"\n"
    "  port-groups:\n"
    "    HTTP_PORTS: \"[80,8080]\"\n"
    "    $ADMIN_PORTS: \"[22,3389]\"\n"
    "capture:\n"
    "  mode: dpdk\n"
    "  workers: 3\n"
    "  idle-exit: 7\n"
    "  pcap:\n"
    "    files: [a.pcap, /data/b.pcap]\n"
    "  dpdk:\n"
    "    eal-args: [\"-l\", \"0-1\", \"--no-huge\"]\n"
    "    fallback: af-xdp\n"
    "    mbufs: 4096\n"
    "  af-xdp:\n"
    "    interfaces:\n"
    "      - eth1\n"
    "      - eth2\n"
    "    queues: 4\n"
    "    xdp-mode: generic\n"
    "    bind-mode: copy\n"
    "    xsk-frames: 2048\n"
    "flow:\n"
    "  capacity: 4096\n"
    "  timeout: 77\n"
    "  timeouts:\n"
    "    tcp: {new: 11, established: 12, closing: 13, closed: 14}\n"
    "    udp: {new: 21, established: 22}\n"
    "    icmp: {new: 31, established: 32}\n"
    "    other: {new: 41, established: 42}\n"
    "stream:\n"
    "  depth: 2mb\n"
    "  flows: 1024\n"
    "  midstream: yes\n"
    "  inspect-encrypted: yes\n"
    "  window: 1kb\n"
    "  ooo-segments: 16\n"
    "  ooo-pool: 8 MiB\n"
    "detect:\n"
    "  rule-path: /etc/rules\n"
    "  rules: [x.rules, /abs/y.rules]\n"
    "  classification-file: /c/classification.config\n"
    "  rule-cache: none\n"
    "  test-rules: true\n"
    "outputs:\n"
    "  log-dir: /tmp/mamori-logs\n"
    "  stats: {interval: 3}\n"
    "  eve: {enabled: false, filename: alerts.json}\n"
    "  syslog: {enabled: true, facility: local1, severity: notice, identity: m2, server: 10.0.0.1,"
    " port: 1514}\n"
    "  redis:\n"
    "    enabled: true\n"
    "    server: redis.example\n"
    "    port: 6380\n"
    "    mode: stream\n"
    "    key: k2\n"
    "    stream-maxlen: 5\n"
    "    buffer: 6\n"
    "  unix-socket: {enabled: true, path: /tmp/eve.sock, type: dgram}\n"
    "  prometheus: {enabled: true, address: 0.0.0.0, port: 9999}\n"
    "control-socket:\n"
    "  path: /tmp/ctl.sock\n"
    "  mode: 0600\n"
    "anomaly:\n"
    "  enabled: false\n"
    "  dst-width: 1024\n"
    "  dsrc-width: 512\n"
    "  event-width: 256\n"
    "  bf-width: 128\n"
    "  snapshots: 4\n"
    "  seed: 42\n"
    "  event-budget: 1000\n"
    "  track-max: 100\n"
    "  track-candidates-max: 50\n"
    "  track-min-pps: 7.5\n"
    "  track-idle: 30\n"
    "  baseline-alpha: 0.25\n"
    "  baseline-warmup: 5\n"
    "  max-wait-ticks: 0\n"
    "  start-ticks: 3\n"
    "  hold: 4\n"
    "  update: 6\n"
    "  sustain-ratio: 0.75\n"
    "  max-active: 9\n"
    "  reflector-ports: [53, 123]\n"
    "  brute-force-ports: [22]\n"
    "  brute-force-long: 120\n"
    /* Host groups come before the thresholds they start from: order does
     * not matter. */
    "  host-groups:\n"
    "    - name: dmz\n"
    "      networks: [\"10.1.0.0/16\", \"2001:db8::/32\"]\n"
    "      thresholds:\n"
    "        syn-flood: {pps: 5}\n"
    "        port-scan: {enabled: false}\n"
    "    - networks: 192.0.2.7\n"
    "  flow-spike: {enabled: false, new-flows: 1, bps: 2, cusum-k: 3, cusum-h: 4, ratio: 5}\n"
    "  volume-spike: {enabled: false, new-flows: 6, bps: 7, cusum-k: 8, cusum-h: 9, ratio: 10}\n"
    "  decode: {enabled: false, pps: 11, bps: 12, z: 13, ratio: 14}\n"
    "  thresholds:\n"
    "    port-scan: {enabled: false, score: 33, success-weight: 0.25, fail-weight: 4, window: 9}\n"
    "    host-sweep: {enabled: false, score: 34, success-weight: 0.125, fail-weight: 5, "
    "window: 10}\n"
    "    brute-force: {enabled: false, attempts: 44, window: 30}\n"
    "    dst-spike: {enabled: false, new-flows: 55, bps: 66, cusum-k: 0.7, cusum-h: 8, "
    "ratio: 9}\n";

/* The fixture: the head, then each rate detector with values from its
 * index (pps 100+i, bps 200+i, z 10+i, ratio 20+i), off. */
static char *every_key_yaml(void)
{
    size_t len = sizeof(every_key_head) + N_RATE * 200 + 200;
    char *s = malloc(len);
    size_t used = (size_t)snprintf(s, len, "%s", every_key_head);

    for (unsigned i = 0; i < N_RATE; i++) {
        used += (size_t)snprintf(s + used, len - used,
                                 "    %s:\n      enabled: off\n      pps: %u\n      bps: %u\n"
                                 "      z: %u\n      ratio: %u\n", rate_detectors[i].name,
                                 100 + i, 200 + i, 10 + i, 20 + i);
        if (strcmp(rate_detectors[i].name, "syn-flood") == 0)
            used += (size_t)snprintf(s + used, len - used, "      completion-max: 0.9\n");
        if (strcmp(rate_detectors[i].name, "amplification") == 0)
            used += (size_t)snprintf(s + used, len - used, "      min-sources: 11\n");
    }
    return s;
}

static void check_rates(const struct anomaly_thresholds *th, double syn_pps)
{
    for (unsigned i = 0; i < N_RATE; i++) {
        const struct anomaly_rate_cfg *r =
            (const void *)((const char *)th + rate_detectors[i].off);
        CU_ASSERT_FALSE(r->enabled);
        CU_ASSERT_DOUBLE_EQUAL(r->pps, i == 0 ? syn_pps : 100 + i, 1e-9);
        CU_ASSERT_DOUBLE_EQUAL(r->bps, 200 + i, 1e-9);
        CU_ASSERT_DOUBLE_EQUAL(r->z, 10 + i, 1e-9);
        CU_ASSERT_DOUBLE_EQUAL(r->ratio, 20 + i, 1e-9);
    }
    CU_ASSERT_DOUBLE_EQUAL(th->syn_completion_max, 0.9, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(th->amplification_min_sources, 11, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(th->host_sweep.score, 34, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(th->host_sweep.success_weight, 0.125, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(th->host_sweep.fail_weight, 5, 1e-9);
    CU_ASSERT_EQUAL(th->host_sweep.window, 10);
    CU_ASSERT_FALSE(th->host_sweep.enabled);
    CU_ASSERT_FALSE(th->brute_force.enabled);
    CU_ASSERT_DOUBLE_EQUAL(th->brute_force.attempts, 44, 1e-9);
    CU_ASSERT_EQUAL(th->brute_force.window, 30);
    CU_ASSERT_FALSE(th->dst_spike.enabled);
    CU_ASSERT_DOUBLE_EQUAL(th->dst_spike.new_flows, 55, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(th->dst_spike.bps, 66, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(th->dst_spike.cusum_k, 0.7, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(th->dst_spike.cusum_h, 8, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(th->dst_spike.ratio, 9, 1e-9);
}

static void check_spike(const struct anomaly_spike_cfg *s, double base)
{
    CU_ASSERT_FALSE(s->enabled);
    CU_ASSERT_DOUBLE_EQUAL(s->new_flows, base, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(s->bps, base + 1, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(s->cusum_k, base + 2, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(s->cusum_h, base + 3, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(s->ratio, base + 4, 1e-9);
}

static void check_every_key(const struct mamori_options *o)
{
    char err[ERRLEN];
    const struct anomaly_config *a = &o->anomaly;

    CU_ASSERT_EQUAL(o->capture, MODE_DPDK);
    CU_ASSERT_EQUAL(o->workers, 3);
    CU_ASSERT_EQUAL(o->idle_exit, 7);
    CU_ASSERT_EQUAL_FATAL(o->n_pcap_files, 2);
    CU_ASSERT_STRING_EQUAL(o->pcap_files[0], "a.pcap");
    CU_ASSERT_STRING_EQUAL(o->pcap_files[1], "/data/b.pcap");
    CU_ASSERT_EQUAL_FATAL(o->eal_argc, 4);
    CU_ASSERT_STRING_EQUAL(o->eal_argv[1], "-l");
    CU_ASSERT_STRING_EQUAL(o->eal_argv[3], "--no-huge");
    CU_ASSERT_PTR_NULL(o->eal_argv[4]);
    CU_ASSERT_TRUE(o->fallback_afxdp);
    CU_ASSERT_EQUAL(o->mbufs, 4096);
    CU_ASSERT_EQUAL_FATAL(o->n_ifaces, 2);
    CU_ASSERT_STRING_EQUAL(o->ifaces[1], "eth2");
    CU_ASSERT_EQUAL(o->afxdp.queues, 4);
    CU_ASSERT_EQUAL(o->afxdp.xdp_mode, AFXDP_XDP_GENERIC);
    CU_ASSERT_EQUAL(o->afxdp.bind_mode, AFXDP_BIND_COPY);
    CU_ASSERT_EQUAL(o->afxdp.frames, 2048);

    CU_ASSERT_EQUAL(o->flows_per_worker, 4096);
    CU_ASSERT_EQUAL(o->flow_timeout, 77);
    CU_ASSERT_EQUAL(o->flow_timeouts.tcp[FLOW_STATE_NEW], 11);
    CU_ASSERT_EQUAL(o->flow_timeouts.tcp[FLOW_STATE_ESTABLISHED], 12);
    CU_ASSERT_EQUAL(o->flow_timeouts.tcp[FLOW_STATE_CLOSING], 13);
    CU_ASSERT_EQUAL(o->flow_timeouts.tcp[FLOW_STATE_CLOSED], 14);
    CU_ASSERT_EQUAL(o->flow_timeouts.udp[FLOW_STATE_NEW], 21);
    CU_ASSERT_EQUAL(o->flow_timeouts.udp[FLOW_STATE_ESTABLISHED], 22);
    CU_ASSERT_EQUAL(o->flow_timeouts.icmp[FLOW_STATE_NEW], 31);
    CU_ASSERT_EQUAL(o->flow_timeouts.icmp[FLOW_STATE_ESTABLISHED], 32);
    CU_ASSERT_EQUAL(o->flow_timeouts.other[FLOW_STATE_NEW], 41);
    CU_ASSERT_EQUAL(o->flow_timeouts.other[FLOW_STATE_ESTABLISHED], 42);

    CU_ASSERT_EQUAL(o->stream_depth, 2u << 20);
    CU_ASSERT_EQUAL(o->stream_flows, 1024);
    CU_ASSERT_TRUE(o->midstream);
    CU_ASSERT_TRUE(o->inspect_encrypted);
    CU_ASSERT_EQUAL(o->stream_window, 1024);
    CU_ASSERT_EQUAL(o->stream_ooo_segments, 16);
    CU_ASSERT_EQUAL(o->stream_ooo_pool, 8u << 20);

    CU_ASSERT_STRING_EQUAL(o->rule_path, "/etc/rules");
    CU_ASSERT_EQUAL_FATAL(o->n_rule_files, 2);
    CU_ASSERT_STRING_EQUAL(o->rule_files[0], "/etc/rules/x.rules");
    CU_ASSERT_STRING_EQUAL(o->rule_files[1], "/abs/y.rules");
    CU_ASSERT_STRING_EQUAL(o->classification, "/c/classification.config");
    CU_ASSERT_PTR_NULL(o->rule_cache);
    CU_ASSERT_TRUE(o->test_rules);

    CU_ASSERT_STRING_EQUAL(o->log_dir, "/tmp/mamori-logs");
    CU_ASSERT_EQUAL(o->stats_interval, 3);
    CU_ASSERT_FALSE(o->outputs.eve.enabled);
    CU_ASSERT_STRING_EQUAL(o->outputs.eve.filename, "alerts.json");
    CU_ASSERT_TRUE(o->outputs.syslog.enabled);
    CU_ASSERT_EQUAL(o->outputs.syslog.facility, 17);
    CU_ASSERT_EQUAL(o->outputs.syslog.severity, 5);
    CU_ASSERT_STRING_EQUAL(o->outputs.syslog.identity, "m2");
    CU_ASSERT_STRING_EQUAL(o->outputs.syslog.server, "10.0.0.1");
    CU_ASSERT_EQUAL(o->outputs.syslog.port, 1514);
    CU_ASSERT_TRUE(o->outputs.redis.enabled);
    CU_ASSERT_STRING_EQUAL(o->outputs.redis.server, "redis.example");
    CU_ASSERT_EQUAL(o->outputs.redis.port, 6380);
    CU_ASSERT_EQUAL(o->outputs.redis.mode, REDIS_STREAM);
    CU_ASSERT_STRING_EQUAL(o->outputs.redis.key, "k2");
    CU_ASSERT_EQUAL(o->outputs.redis.stream_maxlen, 5);
    CU_ASSERT_EQUAL(o->outputs.redis.buffer, 6);
    CU_ASSERT_TRUE(o->outputs.unix_socket.enabled);
    CU_ASSERT_STRING_EQUAL(o->outputs.unix_socket.path, "/tmp/eve.sock");
    CU_ASSERT_EQUAL(o->outputs.unix_socket.type, SOCKET_DGRAM);
    CU_ASSERT_TRUE(o->outputs.prometheus.enabled);
    CU_ASSERT_STRING_EQUAL(o->outputs.prometheus.address, "0.0.0.0");
    CU_ASSERT_EQUAL(o->outputs.prometheus.port, 9999);
    CU_ASSERT_STRING_EQUAL(o->control_socket.path, "/tmp/ctl.sock");
    CU_ASSERT_EQUAL(o->control_socket.mode, 0600);

    CU_ASSERT_TRUE(o->no_anomaly);
    CU_ASSERT_EQUAL(a->dst_width, 1024);
    CU_ASSERT_EQUAL(a->dsrc_width, 512);
    CU_ASSERT_EQUAL(a->event_width, 256);
    CU_ASSERT_EQUAL(a->bf_width, 128);
    CU_ASSERT_EQUAL(a->snapshots, 4);
    CU_ASSERT_EQUAL(a->seed, 42);
    CU_ASSERT_EQUAL(a->event_budget, 1000);
    CU_ASSERT_EQUAL(a->track_max, 100);
    CU_ASSERT_EQUAL(a->track_candidates_max, 50);
    CU_ASSERT_DOUBLE_EQUAL(a->track_min_pps, 7.5, 1e-9);
    CU_ASSERT_EQUAL(a->track_idle_s, 30);
    CU_ASSERT_DOUBLE_EQUAL(a->baseline_alpha, 0.25, 1e-9);
    CU_ASSERT_EQUAL(a->baseline_warmup, 5);
    CU_ASSERT_EQUAL(a->max_wait_ticks, 0);
    CU_ASSERT_EQUAL(a->start_ticks, 3);
    CU_ASSERT_EQUAL(a->hold_s, 4);
    CU_ASSERT_EQUAL(a->update_s, 6);
    CU_ASSERT_DOUBLE_EQUAL(a->sustain_ratio, 0.75, 1e-9);
    CU_ASSERT_EQUAL(a->max_active, 9);
    CU_ASSERT_EQUAL_FATAL(a->n_reflector_ports, 2);
    CU_ASSERT_EQUAL(a->reflector_ports[1], 123);
    CU_ASSERT_EQUAL_FATAL(a->n_brute_force_ports, 1);
    CU_ASSERT_EQUAL(a->brute_force_ports[0], 22);
    CU_ASSERT_EQUAL(a->brute_force_long_s, 120);
    check_rates(&a->th, 100);
    CU_ASSERT_FALSE(a->th.port_scan.enabled);
    CU_ASSERT_DOUBLE_EQUAL(a->th.port_scan.score, 33, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(a->th.port_scan.success_weight, 0.25, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(a->th.port_scan.fail_weight, 4, 1e-9);
    CU_ASSERT_EQUAL(a->th.port_scan.window, 9);
    check_spike(&a->flow_spike, 1);
    check_spike(&a->volume_spike, 6);
    CU_ASSERT_FALSE(a->decode.enabled);
    CU_ASSERT_DOUBLE_EQUAL(a->decode.pps, 11, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(a->decode.bps, 12, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(a->decode.z, 13, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(a->decode.ratio, 14, 1e-9);

    /* Groups: one per network, starting from the file's thresholds
     * whatever the order of the keys, then their own overrides. */
    CU_ASSERT_EQUAL_FATAL(a->n_groups, 3);
    CU_ASSERT_STRING_EQUAL(a->groups[0].name, "dmz");
    CU_ASSERT_EQUAL(a->groups[0].version, 4);
    CU_ASSERT_EQUAL(a->groups[0].prefix_len, 16);
    CU_ASSERT_STRING_EQUAL(a->groups[1].name, "dmz");
    CU_ASSERT_EQUAL(a->groups[1].version, 6);
    CU_ASSERT_EQUAL(a->groups[1].prefix_len, 32);
    CU_ASSERT_STRING_EQUAL(a->groups[2].name, "192.0.2.7");
    CU_ASSERT_EQUAL(a->groups[2].prefix_len, 32);
    check_rates(&a->groups[0].th, 5);
    check_rates(&a->groups[1].th, 5);
    check_rates(&a->groups[2].th, 100);
    CU_ASSERT_DOUBLE_EQUAL(a->groups[0].th.port_scan.score, 33, 1e-9);
    CU_ASSERT_FALSE(a->groups[0].th.port_scan.enabled);

    /* Variables reach the rule engine's table, over its defaults. */
    struct rule_vars *v = config_rule_vars(o, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_STRING_EQUAL(rule_vars_get(v, RULE_VAR_ADDRESS, "HOME_NET"), "[10.0.0.0/8]");
    CU_ASSERT_STRING_EQUAL(rule_vars_get(v, RULE_VAR_ADDRESS, "DMZ_NET"),
                           "[192.0.2.0/24,$HOME_NET]");
    CU_ASSERT_STRING_EQUAL(rule_vars_get(v, RULE_VAR_PORT, "HTTP_PORTS"), "[80,8080]");
    CU_ASSERT_STRING_EQUAL(rule_vars_get(v, RULE_VAR_PORT, "ADMIN_PORTS"), "[22,3389]");
    CU_ASSERT_STRING_EQUAL(rule_vars_get(v, RULE_VAR_ADDRESS, "EXTERNAL_NET"), "!$HOME_NET");
    CU_ASSERT_STRING_EQUAL(rule_vars_get(v, RULE_VAR_PORT, "SSH_PORTS"), "22");
    rule_vars_free(v);
}

static void test_every_key(void)
{
    struct mamori_options o;
    char err[ERRLEN], *yaml = every_key_yaml();

    CU_ASSERT_EQUAL(load_text(&o, "every.yaml", yaml, err), 0);
    if (err[0])
        printf("\n  %s\n", err);
    check_every_key(&o);
    options_free(&o);
    free(yaml);
}

/* "a.b.c" -> value of each leaf line of a dump, keyed by its path; lists
 * of groups and the variables are left out. */
static json_t *leaves(const char *text)
{
    json_t *out = json_object();
    char path[8][64] = { { 0 } };
    char *copy = strdup(text), *save = NULL;

    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t indent = strspn(line, " ");
        char *colon = strchr(line, ':'), *hash;
        if (line[indent] == '#' || line[indent] == '-' || colon == NULL || indent / 2 >= 8)
            continue;
        *colon = '\0';
        snprintf(path[indent / 2], sizeof(path[0]), "%s", line + indent);
        if ((hash = strstr(colon + 1, "  #")) != NULL)
            *hash = '\0';
        char full[512] = "";
        for (size_t i = 0; i <= indent / 2; i++)
            snprintf(full + strlen(full), sizeof(full) - strlen(full), "%s%s", i ? "." : "",
                     path[i]);
        char *value = colon + 1 + strspn(colon + 1, " ");
        if (*value != '\0' && strncmp(full, "vars.", 5) != 0)
            json_object_set_new(out, full, json_string(value));
    }
    free(copy);
    return out;
}

/* No key of the dump is left at its default by the fixture: the fixture
 * covers every key the dump (that is, the table) has. */
static void test_fixture_covers_every_key(void)
{
    struct mamori_options d, o;
    char err[ERRLEN], *yaml = every_key_yaml();

    config_defaults(&d);
    CU_ASSERT_EQUAL_FATAL(load_text(&o, "every.yaml", yaml, err), 0);
    char *dd = dump(&d), *od = dump(&o);
    json_t *dl = leaves(dd), *ol = leaves(od);
    const char *key;
    json_t *value;

    CU_ASSERT(json_object_size(dl) > 150);
    json_object_foreach(dl, key, value) {
        json_t *other = json_object_get(ol, key);
        if (other != NULL && strcmp(json_string_value(value), json_string_value(other)) == 0) {
            printf("\n  %s keeps its default %s", key, json_string_value(value));
            CU_FAIL("a key the fixture does not set");
        }
    }
    json_decref(dl);
    json_decref(ol);
    free(dd);
    free(od);
    free(yaml);
    options_free(&o);
    options_free(&d);
}

/* dump -> load -> dump gives the same text, and the same fields. */
static void test_round_trip(void)
{
    struct mamori_options o, back;
    char err[ERRLEN], *yaml = every_key_yaml();

    CU_ASSERT_EQUAL_FATAL(load_text(&o, "every.yaml", yaml, err), 0);
    char *first = dump(&o);
    CU_ASSERT_EQUAL(load_text(&back, "dumped.yaml", first, err), 0);
    if (err[0])
        printf("\n  %s\n", err);
    check_every_key(&back);
    char *second = dump(&back);
    CU_ASSERT_STRING_EQUAL(first, second);
    CU_ASSERT_EQUAL(memcmp(&o.flow_timeouts, &back.flow_timeouts, sizeof(o.flow_timeouts)), 0);
    CU_ASSERT_EQUAL(memcmp(&o.anomaly.th, &back.anomaly.th, sizeof(o.anomaly.th)), 0);
    CU_ASSERT_EQUAL(memcmp(&o.anomaly.groups[1].th, &back.anomaly.groups[1].th,
                           sizeof(o.anomaly.groups[1].th)), 0);
    free(first);
    free(second);
    options_free(&back);
    options_free(&o);

    /* The defaults too. */
    config_defaults(&o);
    first = dump(&o);
    CU_ASSERT_EQUAL(load_text(&back, "defaults.yaml", first, err), 0);
    second = dump(&back);
    CU_ASSERT_STRING_EQUAL(first, second);
    CU_ASSERT_EQUAL(memcmp(&o.anomaly, &back.anomaly, sizeof(o.anomaly)), 0);
    free(first);
    free(second);
    options_free(&back);
    options_free(&o);
    free(yaml);
}

/* ---- errors -------------------------------------------------------------------- */

static const struct { const char *yaml, *message; } bad[] = {
    { "stream:\n  depth: lots\n",
      "bad.yaml:2: stream.depth: 'lots' is not a byte count (e.g. 1mb, 64kb, 4096)" },
    { "stream:\n  depth: 8gb\n",
      "bad.yaml:2: stream.depth: '8gb' is not a byte count from 0 to 4294967295" },
    { "stream:\n  dept: 1\n", "bad.yaml:2: stream.dept: unknown key (known here: depth, " },
    { "streams: {}\n", "bad.yaml:1: streams: unknown key (known here: vars, capture, " },
    { "stream:\n  midstream: maybe\n",
      "bad.yaml:2: stream.midstream: 'maybe' is not a boolean (true or false)" },
    { "capture:\n  workers: -1\n",
      "bad.yaml:2: capture.workers: '-1' is not a whole number from 0 to 1024" },
    { "flow:\n  capacity: 3\n",
      "bad.yaml:2: flow.capacity: '3' is not a whole number from 16 to 268435456" },
    { "capture:\n  af-xdp:\n    xsk-frames: 100\n",
      "bad.yaml:3: capture.af-xdp.xsk-frames: '100' is not a whole number from 64 to "
      "1048576, a power of two" },
    { "anomaly:\n  thresholds:\n    syn-flood:\n      pps: fast\n",
      "bad.yaml:4: anomaly.thresholds.syn-flood.pps: 'fast' is not a number" },
    { "anomaly:\n  baseline-alpha: 2\n",
      "bad.yaml:2: anomaly.baseline-alpha: '2' is not from 1e-09 to 1" },
    { "anomaly:\n  track-min-pps: -5\n",
      "bad.yaml:2: anomaly.track-min-pps: '-5' is not a number from 0 up" },
    { "capture:\n  mode: tape\n",
      "bad.yaml:2: capture.mode: 'tape' is not one of: none, pcap, dpdk, af-xdp" },
    { "control-socket:\n  mode: 999\n",
      "bad.yaml:2: control-socket.mode: '999' is not a file mode (octal, e.g. 0660)" },
    { "detect:\n  rules: {a: b}\n", "bad.yaml:2: detect.rules: a mapping is not a list" },
    { "detect:\n  rules: [[a]]\n", "bad.yaml:2: detect.rules[0]: a list is not a single value" },
    { "stream: 5\n", "bad.yaml:1: stream: '5' is not a mapping" },
    { "stream:\n  depth: 1\n  depth: 2\n",
      "bad.yaml:3: stream.depth: given twice (first on line 2)" },
    { "anomaly:\n  reflector-ports: [53, 70000]\n",
      "bad.yaml:2: anomaly.reflector-ports[1]: '70000' is not a port from 1 to 65535" },
    { "anomaly:\n  host-groups:\n    - name: x\n      networks: [10.0.0.0/33]\n",
      "bad.yaml:4: anomaly.host-groups[0].networks[0]: '10.0.0.0/33' is not an address or "
      "network" },
    { "anomaly:\n  host-groups:\n    - name: x\n      networks: 10.0.0.0/8\n"
      "      thresholds:\n        syn-flood: {pps: x}\n",
      "bad.yaml:6: anomaly.host-groups[0].thresholds.syn-flood.pps: 'x' is not a number" },
    { "anomaly:\n  host-groups:\n    - name: x\n      nets: 10.0.0.0/8\n",
      "bad.yaml:4: anomaly.host-groups[0].nets: unknown key (known here: name, networks, "
      "thresholds)" },
    { "anomaly:\n  host-groups:\n    - name: x\n",
      "bad.yaml:3: anomaly.host-groups[0]: a host group needs networks" },
    { "vars:\n  address-groups:\n    HOME_NET: \"[10.0.0.0/40]\"\n",
      "bad.yaml:3: vars.address-groups.HOME_NET: '[10.0.0.0/40]': " },
    { "vars:\n  address-groups:\n    A_NET: $B_NET\n    B_NET: $A_NET\n",
      "bad.yaml:3: vars.address-groups.A_NET: '$B_NET': " },
    { "vars:\n  port-groups:\n    BAD-NAME: \"80\"\n",
      "bad.yaml:3: vars.port-groups.BAD-NAME: 'BAD-NAME': invalid variable name" },
    { "capture:\n  dpdk:\n    mbufs: 8\n",
      "bad.yaml:3: capture.dpdk.mbufs: '8' is not 0 or a whole number from 16 to 16777216" },
    { "stream: [\n", "bad.yaml:2: YAML: " },
};

static void test_errors(void)
{
    char err[ERRLEN];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct mamori_options o;
        int rc = load_text(&o, "bad.yaml", bad[i].yaml, err);
        const char *at = strstr(err, "bad.yaml");
        if (rc != -1 || at == NULL || strncmp(at, bad[i].message, strlen(bad[i].message)) != 0) {
            printf("\n  case %zu: got \"%s\"\n    wanted \"%s\"", i, err, bad[i].message);
            CU_FAIL("error message");
        }
        options_free(&o);
    }
    struct mamori_options o;
    config_defaults(&o);
    CU_ASSERT_EQUAL(config_load(&o, "/nonexistent/mamori.yaml", err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/mamori.yaml: No such file"));
    options_free(&o);
}

/* ---- the command line over the file --------------------------------------------- */

static int parse(struct mamori_options *o, char *err, int argc, const char **argv)
{
    return options_parse(o, argc, (char **)argv, err, ERRLEN);
}

static void test_command_line_overrides(void)
{
    struct mamori_options o;
    char err[ERRLEN], conf[4096];

    write_file(tmp_path("base.yaml"),
               "capture:\n  mode: pcap\n  workers: 3\n  pcap: {files: [one.pcap, two.pcap]}\n"
               "  af-xdp: {interfaces: [eth9]}\n"
               "outputs: {log-dir: /from/file, stats: {interval: 30}}\n"
               "stream: {depth: 2mb, midstream: true}\n"
               "detect: {rules: [a.rules], rule-cache: /cache}\n");
    snprintf(conf, sizeof(conf), "%s", tmp_path("base.yaml"));

    /* The file alone. */
    const char *a1[] = { "mamori", "-c", conf };
    CU_ASSERT_EQUAL_FATAL(parse(&o, err, 3, a1), 0);
    CU_ASSERT_EQUAL(o.mode, MODE_PCAP);
    CU_ASSERT_EQUAL(o.workers, 3);
    CU_ASSERT_EQUAL(o.n_pcap_files, 2);
    CU_ASSERT_STRING_EQUAL(o.log_dir, "/from/file");
    CU_ASSERT_EQUAL(o.stats_interval, 30);
    options_free(&o);

    /* Values and lists given on the command line replace the file's; the
     * rest stays as the file says, wherever -c stands. */
    const char *a2[] = { "mamori", "-w", "5", "-r", "three.pcap", "-l", "/from/cli", "-c", conf,
                         "-S", "/x.rules", "--stream-depth", "64kb", "--rule-cache", "none" };
    CU_ASSERT_EQUAL_FATAL(parse(&o, err, 15, a2), 0);
    CU_ASSERT_EQUAL(o.mode, MODE_PCAP);
    CU_ASSERT_EQUAL(o.workers, 5);
    CU_ASSERT_EQUAL_FATAL(o.n_pcap_files, 1);
    CU_ASSERT_STRING_EQUAL(o.pcap_files[0], "three.pcap");
    CU_ASSERT_STRING_EQUAL(o.log_dir, "/from/cli");
    CU_ASSERT_EQUAL(o.stats_interval, 30);
    CU_ASSERT_EQUAL_FATAL(o.n_rule_files, 1);
    CU_ASSERT_STRING_EQUAL(o.rule_files[0], "/x.rules");
    CU_ASSERT_EQUAL(o.stream_depth, 65536);
    CU_ASSERT_TRUE(o.midstream);
    CU_ASSERT_PTR_NULL(o.rule_cache);
    options_free(&o);

    /* -i chooses AF_XDP over capture.mode pcap; its list replaces the file's. */
    const char *a3[] = { "mamori", "-c", conf, "-i", "veth0,veth1" };
    CU_ASSERT_EQUAL_FATAL(parse(&o, err, 5, a3), 0);
    CU_ASSERT_EQUAL(o.mode, MODE_AFXDP);
    CU_ASSERT_EQUAL_FATAL(o.afxdp.n_ifaces, 2);
    CU_ASSERT_STRING_EQUAL(o.afxdp.ifaces[0], "veth0");
    options_free(&o);

    /* --dpdk with EAL arguments; the file's interfaces serve the fallback. */
    const char *a4[] = { "mamori", "-c", conf, "--dpdk", "--fallback", "afxdp", "--", "-l", "0-1" };
    CU_ASSERT_EQUAL_FATAL(parse(&o, err, 9, a4), 0);
    CU_ASSERT_EQUAL(o.mode, MODE_DPDK);
    CU_ASSERT_EQUAL_FATAL(o.eal_argc, 3);
    CU_ASSERT_STRING_EQUAL(o.eal_argv[2], "0-1");
    CU_ASSERT_STRING_EQUAL(o.afxdp.ifaces[0], "eth9");
    options_free(&o);

    /* A bad file stops the parse with its message; a bad option after a good
     * file is still named. */
    const char *a5[] = { "mamori", "-c", "/nonexistent.yaml", "-r", "x" };
    CU_ASSERT_EQUAL(parse(&o, err, 5, a5), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent.yaml"));
    options_free(&o);
    const char *a6[] = { "mamori", "-c", conf, "-w", "zero" };
    CU_ASSERT_EQUAL(parse(&o, err, 5, a6), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "-w: 'zero'"));
    options_free(&o);

    /* --dump-config needs no capture; capture.mode needs its input. */
    const char *a7[] = { "mamori", "--dump-config" };
    CU_ASSERT_EQUAL(parse(&o, err, 2, a7), 0);
    CU_ASSERT_TRUE(o.dump_config);
    options_free(&o);
    write_file(tmp_path("nofile.yaml"), "capture: {mode: pcap}\n");
    snprintf(conf, sizeof(conf), "%s", tmp_path("nofile.yaml"));
    const char *a8[] = { "mamori", "-c", conf };
    CU_ASSERT_EQUAL(parse(&o, err, 3, a8), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "capture.mode is pcap but no file is named"));
    options_free(&o);
}

/* Relative rule files: beside the configuration file, or under rule-path
 * (itself relative to the file's directory unless absolute). */
static void test_rule_paths(void)
{
    struct mamori_options o;
    char err[ERRLEN], want[8192], real[4096];

    CU_ASSERT_PTR_NOT_NULL_FATAL(realpath(tmpdir, real));
    CU_ASSERT_EQUAL_FATAL(load_text(&o, "r1.yaml", "detect:\n  rules: [a.rules, /b.rules]\n",
                                    err), 0);
    snprintf(want, sizeof(want), "%s/a.rules", real);
    CU_ASSERT_STRING_EQUAL(o.rule_files[0], want);
    CU_ASSERT_STRING_EQUAL(o.rule_files[1], "/b.rules");
    options_free(&o);
    CU_ASSERT_EQUAL_FATAL(load_text(&o, "r2.yaml",
                                    "detect:\n  rules: [a.rules]\n  rule-path: sub\n", err), 0);
    snprintf(want, sizeof(want), "%s/sub/a.rules", real);
    CU_ASSERT_STRING_EQUAL(o.rule_files[0], want);
    options_free(&o);
}

/* ---- the shipped example ----------------------------------------------------------- */

static const char *shipped(void)
{
    static char path[4096];
    const char *src = getenv("MAMORI_SOURCE");
    snprintf(path, sizeof(path), "%s/mamori.yaml", src ? src : ".");
    return path;
}

/* It loads, and says what the defaults are: loading it changes nothing. */
static void test_shipped_yaml(void)
{
    struct mamori_options o, d;
    char err[ERRLEN] = "";

    config_defaults(&o);
    CU_ASSERT_EQUAL(config_load(&o, shipped(), err, sizeof(err)), 0);
    if (err[0])
        printf("\n  %s\n", err);
    config_defaults(&d);
    char *od = dump(&o), *dd = dump(&d);
    CU_ASSERT_STRING_EQUAL(od, dd);
    free(od);
    free(dd);
    options_free(&o);
    options_free(&d);
}

/* ---- the real program ------------------------------------------------------------- */

static void test_mamori_with_config(void)
{
    char *dir = e2e_mkdtemp(), eve[4200];
    const char *src = getenv("MAMORI_SOURCE");

    snprintf(eve, sizeof(eve), "%s/eve.json", dir);
    CU_ASSERT_EQUAL_FATAL(e2e_run("'%s' -c '%s' -r '%s/tests/data/sample.pcap' -l '%s' "
                                  "2>'%s/stderr'", e2e_mamori(), shipped(), src, dir, dir), 0);
    json_t *flows = e2e_read_events(eve, "flow");
    CU_ASSERT(json_array_size(flows) > 0);
    json_decref(flows);

    /* --dump-config exits 0; its output read back dumps the same. */
    CU_ASSERT_EQUAL(e2e_run("'%s' --dump-config -c '%s' -r x.pcap -w 2 > '%s/d1.yaml'",
                            e2e_mamori(), shipped(), dir), 0);
    CU_ASSERT_EQUAL(e2e_run("'%s' --dump-config -c '%s/d1.yaml' > '%s/d2.yaml'",
                            e2e_mamori(), dir, dir), 0);
    CU_ASSERT_EQUAL(e2e_run("cmp -s '%s/d1.yaml' '%s/d2.yaml'", dir, dir), 0);
    CU_ASSERT_EQUAL(e2e_run("grep -q '^  workers: 2 ' '%s/d1.yaml'", dir), 0);
    CU_ASSERT_EQUAL(e2e_run("'%s' --dump-config > /dev/null", e2e_mamori()), 0);

    /* A bad file: exit status 2, the message names file, line and key. */
    CU_ASSERT_EQUAL(e2e_run("printf 'stream:\\n  depth: lots\\n' > '%s/bad.yaml'", dir), 0);
    CU_ASSERT_EQUAL(e2e_run("'%s' -c '%s/bad.yaml' -r x 2>'%s/err'", e2e_mamori(), dir, dir), 2);
    CU_ASSERT_EQUAL(e2e_run("grep -q \"bad.yaml:2: stream.depth: 'lots' is not a byte count\" "
                            "'%s/err'", dir), 0);
    CU_ASSERT_EQUAL(e2e_run("'%s' --help | grep -q -- '--dump-config'", e2e_mamori()), 0);
    e2e_rmdir(dir);
}

int main(void)
{
    CU_TestInfo cases[] = {
        { "every key lands in its field", test_every_key },
        { "the fixture sets every key of the dump", test_fixture_covers_every_key },
        { "dump, load, dump: the same configuration", test_round_trip },
        { "errors name file, line, key, value and why", test_errors },
        { "the command line overrides the file", test_command_line_overrides },
        { "relative rule files", test_rule_paths },
        { "the shipped mamori.yaml states the defaults", test_shipped_yaml },
        { "mamori -c mamori.yaml -r, --dump-config", test_mamori_with_config },
        CU_TEST_INFO_NULL,
    };
    tmpdir = e2e_mkdtemp();
    int rc = cunit_run("config", cases);
    e2e_rmdir(tmpdir);
    return rc;
}
