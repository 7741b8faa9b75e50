/* capture_afxdp.h - capture from network interfaces through XDP and AF_XDP
 * sockets (mamori -i IFACE), for hosts where DPDK cannot take the NIC.
 *
 * Per interface, mamori's own XDP program (bpf/mamori_xdp.bpf.c) counts
 * every frame and redirects it to the AF_XDP socket of its RX queue. Each
 * socket has a UMEM of its own. Queue q of every interface belongs to
 * worker q % workers, whose thread polls its sockets in turn and hands
 * bursts to worker_process_burst(): the same decode, flow and detection
 * code as the DPDK path. With the default worker count (one per queue)
 * that is one thread per queue. */
#ifndef MAMORI_CAPTURE_AFXDP_H
#define MAMORI_CAPTURE_AFXDP_H

#include <stdbool.h>
#include <stdint.h>

#include "capture.h"

enum afxdp_xdp_mode {
    AFXDP_XDP_DEFAULT,     /* native, generic when native cannot attach */
    AFXDP_XDP_NATIVE,
    AFXDP_XDP_GENERIC,
};

enum afxdp_bind_mode {
    AFXDP_BIND_DEFAULT,    /* zero-copy where the driver has it, else copy */
    AFXDP_BIND_ZEROCOPY,
    AFXDP_BIND_COPY,
};

#define AFXDP_DEFAULT_FRAMES 4096u

struct afxdp_config {
    const char *const *ifaces;
    unsigned n_ifaces;
    unsigned queues;               /* per interface; 0 = all its channels */
    enum afxdp_xdp_mode xdp_mode;
    enum afxdp_bind_mode bind_mode;
    uint32_t frames;               /* UMEM frames per socket (power of two);
                                    * the fill and RX rings have half each */
};

/* Sockets per interface the configuration asks for: the largest over the
 * interfaces (--queues, or each one's combined channels via ethtool, or 1).
 * The default worker count. -1 with the cause in err. */
int capture_afxdp_queues(const struct afxdp_config *cfg, char *err, size_t errlen);

/* Load and attach the XDP program on every interface (detaching one a
 * crashed run left), create the sockets and fill their rings. NULL with the
 * cause (interface, queue, errno text) in err; nothing stays attached. */
struct capture *capture_afxdp_open(const struct afxdp_config *cfg,
                                   struct worker **workers, unsigned n_workers,
                                   char *err, size_t errlen);

#endif
