/* ctl_commands.h - the sensor's control commands (CONTROL.md lists them):
 * stats, version, shutdown, rules stats, rules reload, detectors,
 * detector get|set, top talkers, alerts tail, log reopen.
 *
 * Handlers run on the main thread inside ctl_server_poll(), so they read
 * the sensor directly. Threshold changes go through
 * anomaly_engine_reconfigure() and take effect on the next tick. */
#ifndef MAMORI_CTL_COMMANDS_H
#define MAMORI_CTL_COMMANDS_H

#include <stddef.h>

#include "anomaly.h"
#include "ctl_server.h"

struct sensor;
struct ctl_commands;

/* Register the commands on srv for sensor s (which must outlive them).
 * NULL with the cause in err. */
struct ctl_commands *ctl_commands_create(struct ctl_server *srv, struct sensor *s,
                                         char *err, size_t errlen);
void ctl_commands_destroy(struct ctl_commands *cc);

/* The sensor logged a statistical alert: follow the active attacks (and
 * their heaviest sources) that "top talkers" reports. */
void ctl_commands_note_anomaly(struct ctl_commands *cc, const struct anomaly_alert *a);

#endif
