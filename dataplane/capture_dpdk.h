/* capture_dpdk.h - capture from every port DPDK probes (mamori --dpdk).
 *
 * Real NICs and virtual devices alike (net_pcap, net_ring, net_null,
 * net_af_packet, ...). Each worker runs on its own lcore, owns RX queue i of
 * every port and polls them all in turn, so a split tap that delivers the
 * two directions on two ports still lands both on one worker. Where the
 * driver does RSS, the key is the symmetric 0x6D5A pattern hashing IP
 * addresses and TCP/UDP ports: both directions of a flow reach one queue. */
#ifndef MAMORI_CAPTURE_DPDK_H
#define MAMORI_CAPTURE_DPDK_H

#include "capture.h"

/* Start the EAL with argv (argv[0] the program name). Returns the number of
 * worker lcores (all but the main one), or -1 with the cause in err; when
 * hugepages are the cause, err says how many mamori needs and how to get
 * them. mbufs is --mbufs (0: sized from the ports and workers). */
int capture_dpdk_init(int argc, char **argv, unsigned mbufs, char *err, size_t errlen);

/* Configure and start every port with one RX queue per worker (fewer where
 * a port has fewer), one mempool of mbufs buffers (0: sized from the queues
 * and descriptors). NULL with the cause in err.
 *
 * Counters (capture ops): per port "port.<name>.<what>" and summed
 * "capture.<what>", what = ipackets, ibytes, imissed (the NIC had no RX
 * descriptor: the worker was too slow), ierrors, rx_nombuf (no mbuf to
 * receive into: mempool exhausted); and the pool's capture.mbuf_capacity
 * and capture.mbufs_in_use. */
struct capture *capture_dpdk_open(struct worker **workers, unsigned n_workers, unsigned mbufs,
                                  char *err, size_t errlen);

/* The mbufs of a pool sized for n_ports ports and n_workers workers when
 * --mbufs is not given. */
unsigned capture_dpdk_default_mbufs(unsigned n_ports, unsigned n_workers);

/* Stop and close the ports, release the EAL. */
void capture_dpdk_cleanup(void);

#endif
