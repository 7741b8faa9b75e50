/* mamori.c - the sensor's entry point: options, set-up, run, tear-down. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture_dpdk.h"
#include "capture_pcap.h"
#include "mamori_version.h"
#include "options.h"
#include "rule_check.h"
#include "sensor.h"
#include "stats.h"

#define ERRLEN 512

static unsigned default_workers(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 1 ? (unsigned)(cores - 1) : 1;
}

static int make_log_dir(const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0750) == 0 || errno == EEXIST)
        return 0;
    snprintf(err, errlen, "log directory %s: %s", dir, strerror(errno));
    return -1;
}

static struct worker **create_workers(unsigned n, const struct mamori_options *o,
                                      char *err, size_t errlen)
{
    struct worker **workers = calloc(n, sizeof(*workers));

    if (workers == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (unsigned i = 0; i < n; i++) {
        struct worker_config cfg;
        worker_config_default(&cfg);
        cfg.id = i;
        cfg.flows.capacity = o->flows_per_worker;
        if (o->flow_timeout)
            flow_timeouts_set_all(&cfg.flows.timeouts, o->flow_timeout);
        cfg.lossless = o->mode == MODE_PCAP;
        if ((workers[i] = worker_create(&cfg, err, errlen)) == NULL) {
            while (i-- > 0)
                worker_destroy(workers[i]);
            free(workers);
            return NULL;
        }
    }
    return workers;
}

static void print_summary(const struct sensor *s)
{
    json_t *stats = sensor_stats(s);

    fprintf(stderr,
            "mamori: %llu packets (%llu bytes), %llu invalid; %llu flows logged, "
            "%llu evicted, %llu unattributed packets\n",
            (unsigned long long)stats_get(stats, "decoder.pkts"),
            (unsigned long long)stats_get(stats, "decoder.bytes"),
            (unsigned long long)stats_get(stats, "decoder.invalid"),
            (unsigned long long)s->flows_logged,
            (unsigned long long)stats_get(stats, "flow.evicted"),
            (unsigned long long)stats_get(stats, "flow.unattributed"));
    json_decref(stats);
}

/* Set up the capture the options ask for, and the workers it feeds. */
static struct capture *open_capture(const struct mamori_options *o, struct sensor *s,
                                    char *err, size_t errlen)
{
    unsigned n = o->workers;

    if (o->mode == MODE_DPDK) {
        int lcores = capture_dpdk_init(o->eal_argc, o->eal_argv, err, errlen);
        if (lcores < 0)
            return NULL;
        if (n == 0)
            n = (unsigned)lcores;
        if (n > (unsigned)lcores) {
            snprintf(err, errlen, "-w %u needs %u worker lcores, the EAL has %d "
                     "(give more with -l, e.g. -- -l 0-%u)", n, n, lcores, n);
            return NULL;
        }
    } else if (n == 0) {
        n = default_workers();
    }
    s->n_workers = n;
    if ((s->workers = create_workers(n, o, err, errlen)) == NULL)
        return NULL;
    if (o->mode == MODE_DPDK)
        return capture_dpdk_open(s->workers, n, err, errlen);
    return capture_pcap_open(o->pcap_files, o->n_pcap_files, s->workers, n, err, errlen);
}

static void teardown(struct sensor *s, const struct mamori_options *o)
{
    if (s->capture != NULL)
        s->capture->ops->destroy(s->capture);
    for (unsigned i = 0; s->workers != NULL && i < s->n_workers; i++)
        worker_destroy(s->workers[i]);
    free(s->workers);
    eve_close(s->eve);
    if (o->mode == MODE_DPDK)
        capture_dpdk_cleanup();
}

int main(int argc, char **argv)
{
    struct mamori_options o;
    struct sensor s = { 0 };
    char err[ERRLEN], path[4096];
    int status = 1;

    if (options_parse(&o, argc, argv, err, sizeof(err)) < 0) {
        fprintf(stderr, "mamori: %s\n", err);
        options_free(&o);
        return 2;
    }
    if (o.help || o.version) {
        if (o.help)
            options_usage(stdout);
        else
            printf("mamori %s (DPDK %s)\n", MAMORI_VERSION, MAMORI_DPDK_VERSION);
        options_free(&o);
        return 0;
    }

    if (o.mode == MODE_RULE_CHECK) {
        status = rule_check_files(o.rule_files, o.n_rule_files, o.classification, stdout, stderr);
        options_free(&o);
        return status;
    }
    s.cfg.stats_interval = o.stats_interval;
    s.cfg.idle_exit = o.idle_exit;
    snprintf(path, sizeof(path), "%s/eve.json", o.log_dir);
    if (make_log_dir(o.log_dir, err, sizeof(err)) < 0 ||
        (s.eve = eve_open(path, err, sizeof(err))) == NULL ||
        (s.capture = open_capture(&o, &s, err, sizeof(err))) == NULL) {
        fprintf(stderr, "mamori: %s\n", err);
        goto out;
    }
    fprintf(stderr, "mamori %s: %s capture, %u worker%s, %u flows per worker, logging to %s\n",
            MAMORI_VERSION, s.capture->ops->name, s.n_workers, s.n_workers == 1 ? "" : "s",
            o.flows_per_worker, path);
    if (sensor_run(&s, err, sizeof(err)) < 0) {
        fprintf(stderr, "mamori: %s\n", err);
        goto out;
    }
    print_summary(&s);
    status = 0;
out:
    teardown(&s, &o);
    options_free(&o);
    return status;
}
