/* options.h - mamori's command line. */
#ifndef MAMORI_OPTIONS_H
#define MAMORI_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum capture_mode { MODE_NONE, MODE_PCAP, MODE_DPDK, MODE_RULE_CHECK };

struct mamori_options {
    enum capture_mode mode;
    const char **pcap_files;     /* -r, in order */
    unsigned n_pcap_files;
    int eal_argc;                /* --dpdk: what follows "--" */
    char **eal_argv;             /* eal_argv[0] is the program name */
    unsigned workers;            /* -w; 0 = one per core beside the main one */
    const char *log_dir;         /* -l */
    unsigned stats_interval;     /* seconds, 0 = only at exit */
    unsigned idle_exit;          /* seconds without a packet, 0 = never */
    uint32_t flows_per_worker;   /* --flows */
    uint32_t flow_timeout;       /* --flow-timeout: one idle timeout for all; 0 = per state */
    const char **rule_files;     /* -S, in order */
    unsigned n_rule_files;
    const char *classification;  /* --classification-file */
    bool help;
    bool version;
};

/* Parse argv. 0 on success; -1 with a message naming the bad option in err.
 * Allocates arrays released by options_free(). */
int options_parse(struct mamori_options *o, int argc, char **argv, char *err, size_t errlen);
void options_free(struct mamori_options *o);
void options_usage(FILE *out);

#endif
