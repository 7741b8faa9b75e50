/* privilege.h - least privilege once the sensor is set up.
 *
 * After the capture, the exporters and the control socket are open, mamori
 * keeps only the capabilities its capture path still uses until exit and
 * drops every other one, in every thread of the process (capabilities are
 * per thread: DPDK's lcore threads exist by then) and from the bounding
 * and ambient sets, so nothing the process runs later can regain them:
 *
 *   pcap (-r)  none: the files are open, the workers are threads.
 *   dpdk       none: rte_eal_init has mapped the memory and probed the
 *              devices, the ports are started; receiving is memory reads.
 *   afxdp      cap_net_admin, to detach the XDP program at exit, and
 *              cap_bpf, for the map reads behind the stats and the socket
 *              removal at exit (kernels before 6.5 check it on every bpf()
 *              call when unprivileged BPF is disabled, Debian's default).
 *
 * The uid stays what it was (root usually): files the sensor owns (logs,
 * rule cache) stay writable, files of other users no longer are. */
#ifndef MAMORI_PRIVILEGE_H
#define MAMORI_PRIVILEGE_H

#include <stddef.h>

/* The capabilities (CAP_* bits) a capture path keeps, by its capture ops
 * name ("pcap", "dpdk", "afxdp"); an unknown name keeps none. */
unsigned long long privilege_needed(const char *capture_name);

/* Keep only `keep` (CAP_* bits, less any not held now) in every thread.
 * Writes the kept capabilities' names ("cap_net_admin,cap_bpf", or "none")
 * to kept. 0, or -1 with the cause in err (mamori should not run then). */
int privilege_drop(unsigned long long keep, char *kept, size_t keptlen, char *err,
                   size_t errlen);

/* Refuse a control socket other users could use or replace: the socket
 * writable by everyone, or its directory writable by everyone without the
 * sticky bit, or owned by another user than us or root. */
int privilege_check_socket(const char *path, char *err, size_t errlen);

#endif
