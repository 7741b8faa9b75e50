/* options.c - parsing mamori's command line. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mamori_version.h"
#include "ctl_server.h"
#include "config.h"
#include "export_options.h"
#include "options.h"
#include "rules.h"

/* getopt's short options; -c and --dump-config are read in a first pass. */
#define OPTSTRING ":r:i:w:l:S:c:ThV"

enum long_only {
    OPT_DPDK = 256,
    OPT_DUMP_CONFIG,
    OPT_STATS_INTERVAL,
    OPT_IDLE_EXIT,
    OPT_FLOWS,
    OPT_FLOW_TIMEOUT,
    OPT_CLASSIFICATION,
    OPT_STREAM_DEPTH,
    OPT_STREAM_FLOWS,
    OPT_MIDSTREAM,
    OPT_RULE_CACHE,
    OPT_NO_ANOMALY,
    OPT_STRICT_RULES,
    OPT_QUEUES,
    OPT_XDP_MODE,
    OPT_BIND_MODE,
    OPT_XSK_FRAMES,
    OPT_FALLBACK,
    OPT_MBUFS,
    OPT_CONTROL_SOCKET,
    OPT_SYSLOG,                  /* exporters */
    OPT_UNIX_SOCKET,
    OPT_REDIS,
    OPT_METRICS,
    OPT_NO_EVE_FILE,             /* end exporters */
};

static const struct option long_options[] = {
    { "read",           required_argument, NULL, 'r' },
    { "dpdk",           no_argument,       NULL, OPT_DPDK },
    { "interface",      required_argument, NULL, 'i' },
    { "queues",         required_argument, NULL, OPT_QUEUES },
    { "xdp-mode",       required_argument, NULL, OPT_XDP_MODE },
    { "bind-mode",      required_argument, NULL, OPT_BIND_MODE },
    { "xsk-frames",     required_argument, NULL, OPT_XSK_FRAMES },
    { "fallback",       required_argument, NULL, OPT_FALLBACK },
    { "mbufs",          required_argument, NULL, OPT_MBUFS },
    { "workers",        required_argument, NULL, 'w' },
    { "log-dir",        required_argument, NULL, 'l' },
    { "stats-interval", required_argument, NULL, OPT_STATS_INTERVAL },
    { "idle-exit",      required_argument, NULL, OPT_IDLE_EXIT },
    { "flows",          required_argument, NULL, OPT_FLOWS },
    { "flow-timeout",   required_argument, NULL, OPT_FLOW_TIMEOUT },
    { "rules",          required_argument, NULL, 'S' },
    { "test-rules",     no_argument,       NULL, 'T' },
    { "classification-file", required_argument, NULL, OPT_CLASSIFICATION },
    { "stream-depth",   required_argument, NULL, OPT_STREAM_DEPTH },
    { "stream-flows",   required_argument, NULL, OPT_STREAM_FLOWS },
    { "midstream",      no_argument,       NULL, OPT_MIDSTREAM },
    { "rule-cache",     required_argument, NULL, OPT_RULE_CACHE },
    { "no-anomaly",     no_argument,       NULL, OPT_NO_ANOMALY },
    { "strict-rules",   no_argument,       NULL, OPT_STRICT_RULES },
    { "control-socket", required_argument, NULL, OPT_CONTROL_SOCKET },
    { "syslog",         required_argument, NULL, OPT_SYSLOG },
    { "unix-socket",    required_argument, NULL, OPT_UNIX_SOCKET },
    { "redis",          required_argument, NULL, OPT_REDIS },
    { "metrics",        required_argument, NULL, OPT_METRICS },
    { "no-eve-file",    no_argument,       NULL, OPT_NO_EVE_FILE },
    { "config",         required_argument, NULL, 'c' },
    { "dump-config",    no_argument,       NULL, OPT_DUMP_CONFIG },
    { "help",           no_argument,       NULL, 'h' },
    { "version",        no_argument,       NULL, 'V' },
    { NULL, 0, NULL, 0 },
};

void options_usage(FILE *out)
{
    fprintf(out,
"Usage: mamori -r FILE [-r FILE ...] [options]      analyse capture files\n"
"       mamori --dpdk [options] -- EAL_ARGS          capture from DPDK ports\n"
"       mamori -i IFACE[,IFACE...] [options]         capture through XDP and AF_XDP\n"
"       mamori -T -S FILE [-S FILE ...]              check rule files and exit\n"
"       mamori -c FILE [options]                     run as a configuration file says\n"
"       mamori --dump-config [-c FILE] [options]     print the effective configuration\n"
"\n"
"mamori is a passive network anomaly sensor. It decodes every packet, keeps\n"
"per-flow state and logs EVE JSON (Suricata-compatible) to DIR/eve.json.\n"
"\n"
"Capture:\n"
"  -r, --read FILE         read a pcap or pcapng file (repeatable, in order);\n"
"                          link types Ethernet, raw IP, Linux SLL/SLL2, BSD null\n"
"      --dpdk              capture from every port DPDK probes; EAL arguments\n"
"                          follow '--' (e.g. -- -l 0-1 --vdev=net_pcap0,rx_pcap=F)\n"
"  -i, --interface IFACE[,IFACE...]  capture from network interfaces through\n"
"                          mamori's XDP program and AF_XDP sockets, where DPDK\n"
"                          cannot take the NIC (as root).\n"
"                          The program is detached on exit; one a killed mamori\n"
"                          left attached is detached at the next start\n"
"      --queues N          AF_XDP sockets per interface, on RX queues 0..N-1\n"
"                          (default: all its channels; one worker per queue)\n"
"      --xdp-mode MODE     native (in the driver) or generic (skb); default:\n"
"                          native, generic if native cannot attach\n"
"      --bind-mode MODE    zerocopy or copy; default: zero-copy where the driver\n"
"                          has it (native mode only), else copy\n"
"      --xsk-frames N      UMEM frames of 4 KiB per socket, a power of two\n"
"                          (default %u); the fill and RX rings hold N/2 each\n"
"      --fallback afxdp    with --dpdk: when the EAL or a port cannot start, say\n"
"                          why and capture the -i interfaces with AF_XDP\n"
"      --mbufs N           with --dpdk: buffers of the RX mempool, 16 or more\n"
"                          (default: every RX ring's descriptors plus caches,\n"
"                          at least 8191). Too few and receives fail, counted\n"
"                          in capture.rx_nombuf; without enough hugepages the\n"
"                          start says how many are needed\n"
"\n"
"Rules:\n"
"  -S, --rules FILE        a Suricata/Snort rule file (repeatable); matches are\n"
"                          EVE alert events. A bad rule is named (file:line)\n"
"                          and skipped; an unreadable file stops the start\n"
"  -T, --test-rules        load the -S files, build the matching engine, print\n"
"                          loaded/skipped/failed, exit 1 if a rule failed\n"
"      --stream-depth B    TCP bytes per direction matched, 64kb, 1mb... (default\n"
"                          %u; 0 = all)\n"
"      --stream-flows N    flows per worker whose TCP streams are reassembled at\n"
"                          once (default %u; beyond, packets are matched one by\n"
"                          one and counted in stream.no_slot)\n"
"      --strict-rules      a rule reload (SIGHUP, mamorictl rules reload) with a\n"
"                          failed rule is refused whole and the old set keeps\n"
"                          running (default: bad rules are named and skipped)\n"
"      --no-anomaly        turn the statistical detectors off (floods, scans,\n"
"                          amplification, brute force, spikes: on by default)\n"
"      --rule-cache DIR    compiled Hyperscan databases are kept here, so a\n"
"                          restart with unchanged rules skips compiling\n"
"                          (default " DEFAULT_RULE_CACHE "; 'none': no cache)\n"
"      --midstream         TCP connections joined without their handshake count\n"
"                          as established for flow:established (Suricata's\n"
"                          stream.midstream; default: only after a handshake)\n"
"      --classification-file FILE  classtypes (default " MAMORI_CLASSIFICATION_CONFIG ",\n"
"                          else the source tree's detectors/classification.config)\n"
"\n"
"Configuration:\n"
"  -c, --config FILE       read settings from a YAML file (mamori.yaml shows\n"
"                          every key): each option here has a key, and the\n"
"                          file also sets detector thresholds, host groups,\n"
"                          rule variables ($HOME_NET...) and stream tuning.\n"
"                          Options given on the command line win: a value\n"
"                          replaces the file's, a list (-r, -S, -i, EAL\n"
"                          arguments) replaces the file's list, and -r, --dpdk\n"
"                          or -i choose the capture over capture.mode\n"
"      --dump-config       print the effective configuration (file, options\n"
"                          and every default) as YAML and exit 0; -c reads it\n"
"                          back to the same configuration\n"
"\n"
"Options:\n"
"  -w, --workers N         worker threads (default: one per core beside the\n"
"                          main one; with --dpdk, the EAL's lcores less one;\n"
"                          with -i, one per queue)\n"
"  -l, --log-dir DIR       output directory (default " DEFAULT_LOG_DIR ")\n"
"      --stats-interval S  write a stats event every S seconds (default %u;\n"
"                          0 = only at exit)\n"
"      --idle-exit S       stop after S seconds without a packet (default: never)\n"
"      --flows N           flow table capacity per worker (default %u)\n"
"      --flow-timeout S    one idle timeout for every protocol and state, in\n"
"                          seconds of packet time (default per state: TCP new\n"
"                          60, established 600, closing 120, closed 10; UDP,\n"
"                          ICMP and other new 30, established 300)\n"
"      --control-socket PATH  serve mamorictl on this Unix socket (default\n"
"                          " CTL_DEFAULT_SOCKET " with --dpdk or -i, none\n"
"                          with -r; 'none': no socket)\n"
"\n"
"Exporters (every EVE event, besides DIR/eve.json; a destination that is down\n"
"is retried with backoff, and what it cannot take is buffered, then dropped\n"
"and counted in stats export.<sink>):\n"
"      --syslog unix:PATH|udp:HOST:PORT[,facility=NAME][,severity=NAME]\n"
"                          RFC 5424 syslog, the EVE JSON as message, to the local\n"
"                          socket (unix:/dev/log) or a UDP collector; alerts take\n"
"                          their own severity, others severity= (default info);\n"
"                          facility default local5\n"
"      --unix-socket PATH[,stream|dgram]  to a consumer listening on PATH\n"
"      --redis HOST:PORT[,list|channel|stream][,key=NAME][,maxlen=N][,buffer=N]\n"
"                          RPUSH, PUBLISH or XADD (MAXLEN ~ N) under key NAME\n"
"                          (default list, key mamori)\n"
"      --metrics [ADDR:]PORT  Prometheus /metrics over HTTP (ADDR default\n"
"                          127.0.0.1; no listener unless given)\n"
"      --no-eve-file       write no eve.json (the exporters only)\n"
"  -h, --help              show this help and exit\n"
"  -V, --version           show the version and exit\n"
"\n"
"SIGINT and SIGTERM stop cleanly: live flows are logged (reason shutdown),\n"
"final stats written, exit status 0.\n",
        AFXDP_DEFAULT_FRAMES, DEFAULT_STREAM_DEPTH, DEFAULT_STREAM_FLOWS,
        DEFAULT_STATS_INTERVAL, DEFAULT_FLOWS);
}

/* A whole decimal number in [min, max], or -1 with a message. */
static int parse_uint(const char *opt, const char *text, unsigned long min,
                      unsigned long max, unsigned long *out, char *err, size_t errlen)
{
    char *end;

    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < min || v > max) {
        snprintf(err, errlen, "%s: '%s' is not a whole number from %lu to %lu",
                 opt, text, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

/* Append path to a growing list of file names (-r, -S). */
static int add_file(const char ***list, unsigned *n, const char *path, char *err, size_t errlen)
{
    const char **files = realloc(*list, (*n + 1) * sizeof(*files));

    if (files == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    files[(*n)++] = path;
    *list = files;
    return 0;
}

/* Append the comma-separated interface names of one -i argument. */
static int add_ifaces(struct mamori_options *o, const char *arg, char *err, size_t errlen)
{
    char **args = realloc(o->iface_args, (o->n_iface_args + 1) * sizeof(*args));
    char *copy = strdup(arg), *save = NULL;
    unsigned before = o->n_ifaces;

    if (args != NULL)
        o->iface_args = args;
    if (args == NULL || copy == NULL) {
        free(copy);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    o->iface_args[o->n_iface_args++] = copy;
    for (char *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        for (unsigned i = 0; i < o->n_ifaces; i++) {
            if (strcmp(o->ifaces[i], name) == 0) {
                snprintf(err, errlen, "-i: %s is named twice", name);
                return -1;
            }
        }
        if (add_file(&o->ifaces, &o->n_ifaces, name, err, errlen) < 0)
            return -1;
    }
    if (o->n_ifaces == before) {
        snprintf(err, errlen, "-i: '%s' names no interface", arg);
        return -1;
    }
    return 0;
}

/* The position of text among names (1-based, as the afxdp enums count
 * after their default), or -1 with a message listing the choices. */
static int parse_choice(const char *opt, const char *text, const char *a, const char *b,
                        char *err, size_t errlen)
{
    if (strcmp(text, a) == 0)
        return 1;
    if (strcmp(text, b) == 0)
        return 2;
    snprintf(err, errlen, "%s: '%s' is neither %s nor %s", opt, text, a, b);
    return -1;
}

/* What the command line itself named, for how it meets the file's. */
struct given {
    bool pcap, rules, ifaces, dpdk, fallback, afxdp_opts, test_rules;
};

/* Pass one: only -c and --dump-config, so that the file is read before the
 * options that override it. Pass two reports bad options. */
static void find_config(struct mamori_options *o, int argc, char **argv)
{
    int c;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, OPTSTRING, long_options, NULL)) != -1) {
        if (c == 'c')
            o->config_file = optarg;
        else if (c == OPT_DUMP_CONFIG)
            o->dump_config = true;
    }
}

/* The capture: -r, --dpdk or -i when given, else capture.mode; and how
 * -i, --fallback and the AF_XDP options combine with it. */
static int choose_capture(struct mamori_options *o, const struct given *g,
                          char *err, size_t errlen)
{
    const char *why = NULL;

    if (g->pcap && g->ifaces)
        why = "-r and -i are separate modes: choose one";
    else if (g->pcap && g->dpdk)
        why = "-r and --dpdk are separate modes: choose one";
    else if (g->dpdk && g->ifaces && !o->fallback_afxdp)
        why = "-i with --dpdk names the interfaces of --fallback afxdp: give that too "
              "(DPDK itself captures the ports the EAL probes)";
    else if (g->fallback && !g->dpdk && o->capture != MODE_DPDK)
        why = "--fallback afxdp goes with --dpdk (AF_XDP alone: -i IFACE)";
    else if (g->afxdp_opts && o->n_ifaces == 0)
        why = "--queues, --xdp-mode, --bind-mode and --xsk-frames go with -i IFACE";
    if (why != NULL) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    if (g->pcap)
        o->capture = MODE_PCAP;
    else if (g->dpdk)
        o->capture = MODE_DPDK;
    else if (g->ifaces && !g->fallback)
        o->capture = MODE_AFXDP;
    o->afxdp.ifaces = o->ifaces;
    o->afxdp.n_ifaces = o->n_ifaces;
    return 0;
}

/* The EAL sees "mamori" plus everything after "--", which replaces
 * capture.dpdk.eal-args. */
static int take_eal_args(struct mamori_options *o, int argc, char **argv,
                         char *err, size_t errlen)
{
    if (optind < argc && o->capture != MODE_DPDK) {
        snprintf(err, errlen, "unexpected argument '%s' (EAL arguments follow --dpdk ... --)",
                 argv[optind]);
        return -1;
    }
    if (o->capture != MODE_DPDK || (optind == argc && o->eal_argc > 0))
        return 0;
    free(o->eal_argv);
    o->eal_argc = argc - optind + 1;
    o->eal_argv = calloc((size_t)o->eal_argc + 1, sizeof(char *));
    if (o->eal_argv == NULL) {
        o->eal_argc = 0;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    o->eal_argv[0] = argv[0];
    for (int i = optind; i < argc; i++)
        o->eal_argv[i - optind + 1] = argv[i];
    return 0;
}

/* The chosen capture has what it needs. */
static int check_capture(struct mamori_options *o, char *err, size_t errlen)
{
    const char *why = NULL;

    if (o->capture == MODE_NONE)
        why = "nothing to capture: give -r FILE, -i IFACE or --dpdk (see --help), "
              "or capture.mode in a -c FILE";
    else if (o->capture == MODE_PCAP && o->n_pcap_files == 0)
        why = "capture.mode is pcap but no file is named (capture.pcap.files or -r FILE)";
    else if (o->capture == MODE_AFXDP && o->n_ifaces == 0)
        why = "capture.mode is af-xdp but no interface is named "
              "(capture.af-xdp.interfaces or -i IFACE)";
    else if (o->capture == MODE_DPDK && o->fallback_afxdp && o->n_ifaces == 0)
        why = "--fallback afxdp needs the interfaces to capture: -i IFACE[,IFACE...]";
    if (why != NULL) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    o->mode = o->capture;
    return 0;
}

/* After the command line: the capture, the EAL arguments, the run mode. */
static int finish(struct mamori_options *o, const struct given *g, int argc, char **argv,
                  char *err, size_t errlen)
{
    o->test_rules = o->test_rules || g->test_rules;
    if (choose_capture(o, g, err, errlen) < 0 || take_eal_args(o, argc, argv, err, errlen) < 0)
        return -1;
    if (o->dump_config) {
        o->mode = o->test_rules ? MODE_RULE_CHECK : o->capture;
        return 0;
    }
    if (o->test_rules) {
        if (o->n_rule_files == 0) {
            snprintf(err, errlen, "-T checks rule files: give them with -S FILE");
            return -1;
        }
        o->mode = MODE_RULE_CHECK;
        return 0;
    }
    return check_capture(o, err, errlen);
}

int options_parse(struct mamori_options *o, int argc, char **argv, char *err, size_t errlen)
{
    unsigned long v;
    uint64_t size;
    struct given g = { 0 };
    int c;

    config_defaults(o);
    find_config(o, argc, argv);
    if (o->config_file != NULL && config_load(o, o->config_file, err, errlen) < 0)
        return -1;
    optind = 0;
    opterr = 0;

    while ((c = getopt_long(argc, argv, OPTSTRING, long_options, NULL)) != -1) {
        switch (c) {
        case 'c':
        case OPT_DUMP_CONFIG:
            break;              /* pass one's */
        case 'r':
            /* A list on the command line replaces the file's. */
            if (!g.pcap)
                o->n_pcap_files = 0;
            g.pcap = true;
            if (add_file(&o->pcap_files, &o->n_pcap_files, optarg, err, errlen) < 0)
                return -1;
            break;
        case 'S':
            if (!g.rules)
                o->n_rule_files = 0;
            g.rules = true;
            if (add_file(&o->rule_files, &o->n_rule_files, optarg, err, errlen) < 0)
                return -1;
            break;
        case 'T':
            g.test_rules = true;
            break;
        case OPT_CLASSIFICATION:
            o->classification = optarg;
            break;
        case OPT_STREAM_DEPTH:
            if (config_parse_size(optarg, UINT32_MAX, &size) < 0) {
                snprintf(err, errlen, "--stream-depth: '%s' is not a byte count up to 4gb "
                         "(e.g. 1mb, 64kb, 4096)", optarg);
                return -1;
            }
            o->stream_depth = (uint32_t)size;
            break;
        case OPT_MIDSTREAM:
            o->midstream = true;
            break;
        case OPT_STRICT_RULES:
            o->strict_rules = true;
            break;
        case OPT_NO_ANOMALY:
            o->no_anomaly = true;
            break;
        case OPT_RULE_CACHE:
            o->rule_cache = strcmp(optarg, "none") == 0 ? NULL : optarg;
            break;
        case OPT_STREAM_FLOWS:
            if (parse_uint("--stream-flows", optarg, 16, 1u << 24, &v, err, errlen) < 0)
                return -1;
            o->stream_flows = (uint32_t)v;
            break;
        case OPT_DPDK:
            g.dpdk = true;
            break;
        case 'i':
            if (!g.ifaces)
                o->n_ifaces = 0;
            g.ifaces = true;
            if (add_ifaces(o, optarg, err, errlen) < 0)
                return -1;
            break;
        case OPT_QUEUES:
            if (parse_uint("--queues", optarg, 1, 1024, &v, err, errlen) < 0)
                return -1;
            o->afxdp.queues = (unsigned)v;
            g.afxdp_opts = true;
            break;
        case OPT_XDP_MODE:
            if ((c = parse_choice("--xdp-mode", optarg, "native", "generic", err, errlen)) < 0)
                return -1;
            o->afxdp.xdp_mode = c == 1 ? AFXDP_XDP_NATIVE : AFXDP_XDP_GENERIC;
            g.afxdp_opts = true;
            break;
        case OPT_BIND_MODE:
            if ((c = parse_choice("--bind-mode", optarg, "zerocopy", "copy", err, errlen)) < 0)
                return -1;
            o->afxdp.bind_mode = c == 1 ? AFXDP_BIND_ZEROCOPY : AFXDP_BIND_COPY;
            g.afxdp_opts = true;
            break;
        case OPT_XSK_FRAMES:
            if (parse_uint("--xsk-frames", optarg, 64, 1u << 20, &v, err, errlen) < 0)
                return -1;
            if ((v & (v - 1)) != 0) {
                snprintf(err, errlen, "--xsk-frames: %lu is not a power of two", v);
                return -1;
            }
            o->afxdp.frames = (uint32_t)v;
            g.afxdp_opts = true;
            break;
        case OPT_SYSLOG:                          /* exporters */
        case OPT_UNIX_SOCKET:
        case OPT_REDIS:
        case OPT_METRICS:
            if (export_option(o, c == OPT_SYSLOG ? "--syslog" : c == OPT_UNIX_SOCKET ?
                              "--unix-socket" : c == OPT_REDIS ? "--redis" : "--metrics",
                              optarg, err, errlen) < 0)
                return -1;
            break;
        case OPT_NO_EVE_FILE:
            o->outputs.eve.enabled = false;
            break;                                /* end exporters */
        case OPT_CONTROL_SOCKET:
            o->control_socket.path = optarg;
            break;
        case OPT_FALLBACK:
            if (strcmp(optarg, "afxdp") != 0) {
                snprintf(err, errlen, "--fallback: '%s' is unknown (the one fallback is afxdp)",
                         optarg);
                return -1;
            }
            o->fallback_afxdp = true;
            g.fallback = true;
            break;
        case OPT_MBUFS:
            if (parse_uint("--mbufs", optarg, 16, 1u << 24, &v, err, errlen) < 0)
                return -1;
            o->mbufs = (unsigned)v;
            break;
        case 'w':
            if (parse_uint("-w", optarg, 1, 1024, &v, err, errlen) < 0)
                return -1;
            o->workers = (unsigned)v;
            break;
        case 'l':
            o->log_dir = optarg;
            break;
        case OPT_STATS_INTERVAL:
            if (parse_uint("--stats-interval", optarg, 0, 86400, &v, err, errlen) < 0)
                return -1;
            o->stats_interval = (unsigned)v;
            break;
        case OPT_IDLE_EXIT:
            if (parse_uint("--idle-exit", optarg, 1, 86400, &v, err, errlen) < 0)
                return -1;
            o->idle_exit = (unsigned)v;
            break;
        case OPT_FLOWS:
            if (parse_uint("--flows", optarg, 16, 1u << 28, &v, err, errlen) < 0)
                return -1;
            o->flows_per_worker = (uint32_t)v;
            break;
        case OPT_FLOW_TIMEOUT:
            if (parse_uint("--flow-timeout", optarg, 1, 1u << 30, &v, err, errlen) < 0)
                return -1;
            o->flow_timeout = (uint32_t)v;
            break;
        case 'h':
            o->help = true;
            return 0;
        case 'V':
            o->version = true;
            return 0;
        case ':':
            snprintf(err, errlen, "%s needs a value", argv[optind - 1]);
            return -1;
        default:
            snprintf(err, errlen, "unknown option '%s' (see --help)", argv[optind - 1]);
            return -1;
        }
    }

    return finish(o, &g, argc, argv, err, errlen);
}

const char *options_keep_string(struct mamori_options *o, const char *text, size_t len)
{
    char **strings = realloc(o->strings, (o->n_strings + 1) * sizeof(*strings));
    char *copy = strndup(text, len);

    if (strings != NULL)
        o->strings = strings;
    if (strings == NULL || copy == NULL) {
        free(copy);
        return NULL;
    }
    o->strings[o->n_strings++] = copy;
    return copy;
}

void options_free(struct mamori_options *o)
{
    free(o->pcap_files);
    free(o->rule_files);
    free(o->eal_argv);
    for (unsigned i = 0; i < o->n_iface_args; i++)
        free(o->iface_args[i]);
    free(o->iface_args);
    free(o->ifaces);
    o->iface_args = NULL;
    o->n_iface_args = 0;
    o->ifaces = NULL;
    o->rule_files = NULL;
    o->pcap_files = NULL;
    o->eal_argv = NULL;
    o->eal_argc = 0;
    free(o->vars);
    o->vars = NULL;
    o->n_vars = 0;
    for (unsigned i = 0; i < o->n_strings; i++)
        free(o->strings[i]);
    free(o->strings);
    o->strings = NULL;
    o->n_strings = 0;
}
