/* config.h - mamori's YAML configuration file (mamori -c FILE) and
 * --dump-config.
 *
 * The file fills the same struct mamori_options as the command line, plus
 * what only the file sets: the statistical detectors' thresholds and host
 * groups, rule variables, stream and flow tuning, and the keys of the
 * exporters. options_parse() reads it before the command line, so options
 * given explicitly override it.
 *
 * Layout (every key, with its default and meaning: mamori.yaml):
 *   vars:            address-groups, port-groups ($HOME_NET, $HTTP_PORTS, ...)
 *   capture:         mode, workers, idle-exit, pcap, dpdk, af-xdp
 *   flow:            capacity, timeout, timeouts (per protocol and state)
 *   stream:          depth, flows, midstream, window, ooo-segments, ooo-pool
 *   detect:          rule-path, rules, classification-file, rule-cache, test-rules
 *   anomaly:         enabled, sizes, tracking, lifecycle, ports, thresholds,
 *                    global detectors, host-groups
 *   outputs:         log-dir, stats, eve, syslog, redis, unix-socket, prometheus
 *   control-socket:  path, mode
 *
 * Errors name the file, the line, the key, the value and why:
 *   mamori.yaml:12: stream.depth: 'lots' is not a byte count (e.g. 1mb, 64kb, 4096) */
#ifndef MAMORI_CONFIG_H
#define MAMORI_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "options.h"
#include "vars.h"

/* The defaults of every key: what options_parse() starts from. */
void config_defaults(struct mamori_options *o);

/* Read path into o, over what o holds. 0, or -1 with "file:line: key: why"
 * in err (o is then partly filled; options_free() still releases it). */
int config_load(struct mamori_options *o, const char *path, char *err, size_t errlen);

/* config_load() of the YAML text buf[0..len): name stands for the file in
 * messages, dir (absolute) is where relative paths in it resolve from. */
int config_load_buffer(struct mamori_options *o, const char *name, const char *dir,
                       const char *buf, size_t len, char *err, size_t errlen);

/* The effective configuration as YAML that config_load() reads back to the
 * same configuration: every key, with a comment saying what it is. */
void config_dump(const struct mamori_options *o, FILE *out);

/* The rule variables: detectors/vars.c's defaults with o->vars over them.
 * NULL with the cause in err. */
struct rule_vars *config_rule_vars(const struct mamori_options *o, char *err, size_t errlen);

/* "4096", "64kb", "1mb", "2 GiB" (k, m, g are powers of 1024) as bytes.
 * 0, or -1 when the text is no byte count or exceeds max. */
int config_parse_size(const char *text, uint64_t max, uint64_t *out);

#endif
