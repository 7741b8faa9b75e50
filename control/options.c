/* options.c - parsing mamori's command line. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mamori_version.h"
#include "options.h"

#define DEFAULT_LOG_DIR "/var/log/mamori"
#define DEFAULT_STATS_INTERVAL 10
#define DEFAULT_FLOWS (1u << 20)

enum long_only {
    OPT_DPDK = 256,
    OPT_STATS_INTERVAL,
    OPT_IDLE_EXIT,
    OPT_FLOWS,
    OPT_FLOW_TIMEOUT,
    OPT_CLASSIFICATION,
};

static const struct option long_options[] = {
    { "read",           required_argument, NULL, 'r' },
    { "dpdk",           no_argument,       NULL, OPT_DPDK },
    { "workers",        required_argument, NULL, 'w' },
    { "log-dir",        required_argument, NULL, 'l' },
    { "stats-interval", required_argument, NULL, OPT_STATS_INTERVAL },
    { "idle-exit",      required_argument, NULL, OPT_IDLE_EXIT },
    { "flows",          required_argument, NULL, OPT_FLOWS },
    { "flow-timeout",   required_argument, NULL, OPT_FLOW_TIMEOUT },
    { "rules",          required_argument, NULL, 'S' },
    { "test-rules",     no_argument,       NULL, 'T' },
    { "classification-file", required_argument, NULL, OPT_CLASSIFICATION },
    { "help",           no_argument,       NULL, 'h' },
    { "version",        no_argument,       NULL, 'V' },
    { NULL, 0, NULL, 0 },
};

void options_usage(FILE *out)
{
    fprintf(out,
"Usage: mamori -r FILE [-r FILE ...] [options]      analyse capture files\n"
"       mamori --dpdk [options] -- EAL_ARGS          capture from DPDK ports\n"
"       mamori -T -S FILE [-S FILE ...]              check rule files and exit\n"
"\n"
"mamori is a passive network anomaly sensor. It decodes every packet, keeps\n"
"per-flow state and logs EVE JSON (Suricata-compatible) to DIR/eve.json.\n"
"\n"
"Capture:\n"
"  -r, --read FILE         read a pcap or pcapng file (repeatable, in order);\n"
"                          link types Ethernet, raw IP, Linux SLL/SLL2, BSD null\n"
"      --dpdk              capture from every port DPDK probes; EAL arguments\n"
"                          follow '--' (e.g. -- -l 0-1 --vdev=net_pcap0,rx_pcap=F)\n"
"\n"
"Rules:\n"
"  -S, --rules FILE        a Suricata/Snort rule file (repeatable)\n"
"  -T, --test-rules        load the -S files, build the matching engine, print\n"
"                          loaded/skipped/failed, exit 1 if a rule failed.\n"
"                          (Matching rules against traffic is not wired yet:\n"
"                          -S is only accepted with -T.)\n"
"      --classification-file FILE  classtypes (default " MAMORI_CLASSIFICATION_CONFIG ",\n"
"                          else the source tree's detectors/classification.config)\n"
"\n"
"Options:\n"
"  -w, --workers N         worker threads (default: one per core beside the\n"
"                          main one; with --dpdk, the EAL's lcores less one)\n"
"  -l, --log-dir DIR       output directory (default " DEFAULT_LOG_DIR ")\n"
"      --stats-interval S  write a stats event every S seconds (default %u;\n"
"                          0 = only at exit)\n"
"      --idle-exit S       stop after S seconds without a packet (default: never)\n"
"      --flows N           flow table capacity per worker (default %u)\n"
"      --flow-timeout S    one idle timeout for every protocol and state, in\n"
"                          seconds of packet time (default per state: TCP new\n"
"                          60, established 600, closing 120, closed 10; UDP,\n"
"                          ICMP and other new 30, established 300)\n"
"  -h, --help              show this help and exit\n"
"  -V, --version           show the version and exit\n"
"\n"
"SIGINT and SIGTERM stop cleanly: live flows are logged (reason shutdown),\n"
"final stats written, exit status 0.\n",
        DEFAULT_STATS_INTERVAL, DEFAULT_FLOWS);
}

/* The installed classification.config, or the source tree's when mamori
 * runs from its build directory. */
static const char *default_classification(void)
{
    if (access(MAMORI_CLASSIFICATION_CONFIG, R_OK) == 0)
        return MAMORI_CLASSIFICATION_CONFIG;
    return MAMORI_SOURCE_CLASSIFICATION_CONFIG;
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

int options_parse(struct mamori_options *o, int argc, char **argv, char *err, size_t errlen)
{
    unsigned long v;
    bool dpdk = false, test_rules = false;
    int c;

    memset(o, 0, sizeof(*o));
    o->log_dir = DEFAULT_LOG_DIR;
    o->stats_interval = DEFAULT_STATS_INTERVAL;
    o->flows_per_worker = DEFAULT_FLOWS;
    o->classification = default_classification();
    optind = 1;
    opterr = 0;

    while ((c = getopt_long(argc, argv, ":r:w:l:S:ThV", long_options, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (add_file(&o->pcap_files, &o->n_pcap_files, optarg, err, errlen) < 0)
                return -1;
            break;
        case 'S':
            if (add_file(&o->rule_files, &o->n_rule_files, optarg, err, errlen) < 0)
                return -1;
            break;
        case 'T':
            test_rules = true;
            break;
        case OPT_CLASSIFICATION:
            o->classification = optarg;
            break;
        case OPT_DPDK:
            dpdk = true;
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

    if (test_rules) {
        if (o->n_rule_files == 0) {
            snprintf(err, errlen, "-T checks rule files: give them with -S FILE");
            return -1;
        }
        o->mode = MODE_RULE_CHECK;
        return 0;
    }
    if (o->n_rule_files > 0) {
        snprintf(err, errlen, "-S: matching rules against traffic is not available yet; "
                 "check rule files with -T -S FILE");
        return -1;
    }
    if (dpdk && o->n_pcap_files > 0) {
        snprintf(err, errlen, "-r and --dpdk are separate modes: choose one");
        return -1;
    }
    if (dpdk) {
        o->mode = MODE_DPDK;
        /* The EAL sees "mamori" plus everything after "--". */
        o->eal_argc = argc - optind + 1;
        o->eal_argv = calloc((size_t)o->eal_argc + 1, sizeof(char *));
        if (o->eal_argv == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        o->eal_argv[0] = argv[0];
        for (int i = optind; i < argc; i++)
            o->eal_argv[i - optind + 1] = argv[i];
        return 0;
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%s' (EAL arguments follow --dpdk ... --)",
                 argv[optind]);
        return -1;
    }
    if (o->n_pcap_files > 0) {
        o->mode = MODE_PCAP;
        return 0;
    }
    snprintf(err, errlen, "nothing to capture: give -r FILE or --dpdk (see --help)");
    return -1;
}

void options_free(struct mamori_options *o)
{
    free(o->pcap_files);
    free(o->rule_files);
    free(o->eal_argv);
    o->rule_files = NULL;
    o->pcap_files = NULL;
    o->eal_argv = NULL;
}
