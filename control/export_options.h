/* export_options.h - the exporters' command-line options onto
 * struct mamori_outputs (the fields the configuration file's outputs keys
 * fill too), and the sinks built from those fields. */
#ifndef MAMORI_EXPORT_OPTIONS_H
#define MAMORI_EXPORT_OPTIONS_H

#include <stddef.h>

#include "export.h"
#include "options.h"

/* One of --syslog, --unix-socket, --redis, --metrics with its value (NULL
 * for a bare --syslog). Sets the section's fields and enables it. 0, or -1
 * with a message naming the option and the bad part in err. */
int export_option(struct mamori_options *o, const char *opt, const char *arg,
                  char *err, size_t errlen);

/* Add the enabled syslog, Unix socket and Redis sinks to ex. 0, or -1 with
 * the cause in err. */
int export_add_configured(struct export *ex, const struct mamori_outputs *out,
                          char *err, size_t errlen);

/* "ADDR:PORT" of the enabled Prometheus endpoint into buf; false if off. */
bool export_metrics_address(const struct mamori_outputs *out, char *buf, size_t size);

#endif
