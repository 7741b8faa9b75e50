/* anomaly_worker.h - the worker's half of the statistical detectors.
 *
 * One struct anomaly_worker per worker thread, created by the engine
 * (anomaly_engine_create() in anomaly.h, then anomaly_engine_worker(e, i))
 * so that every worker's tables have the dimensions and hash seed the
 * engine merges. All memory is allocated then: `snapshots` tick buffers of
 * fixed-size hashed tables (about 7 MiB each with the defaults, see
 * anomaly_worker_memory()), whatever the traffic, spoofed sources included.
 * Nothing here locks or allocates afterwards.
 *
 * The worker thread (and only it) calls, in packet-time order:
 *
 *   anomaly_worker_tick(aw, now_ns)
 *       before its first packet, and whenever its packet clock enters a new
 *       second (at most once per packet; a call within the current second
 *       does nothing, a call with an older time is ignored). Closes the
 *       current tick: hands its snapshot to the main thread and starts an
 *       empty one. Never waits for the main thread: if no cleared snapshot
 *       is free, the tick is dropped and counted (anomaly_worker_ticks_
 *       dropped()) - unless the config says lossless (offline input), where
 *       it yields until the main thread has freed one. Call it for idle
 *       workers too (with the capture's clock), or the engine waits for
 *       them up to anomaly_config.max_wait_ticks ticks.
 *
 *   anomaly_worker_packet(aw, d, f, dir, flow_created, wirelen)
 *       for EVERY packet, after flow_update() for it (the classification
 *       reads the flow's counters and flags including this packet).
 *       f: the packet's flow, or NULL when it has none (not IP, a later
 *       fragment, flow table full). dir: enum flow_dir of the packet in f
 *       (ignored without f). flow_created: this packet started f. Without a
 *       flow, SYN-ACKs, ACKs and reflector-port responses count as
 *       unsolicited, and no per-flow statistics (distinct sources, scans,
 *       brute force, top sources) are kept for the packet.
 *       Cost: one hash of the destination and two cache-line pairs; new
 *       flows and every 1024th packet of a flow take an out-of-line path.
 *
 *   anomaly_worker_flow_end(aw, f, reason)
 *       from the flow table's end callback, for every flow that ends.
 *
 *   anomaly_worker_finish(aw)
 *       at the end of input: publishes the last (partial) tick and tells
 *       the engine this worker has nothing more.
 *
 * Decode anomalies need no extra call: packets the decoder flagged
 * DECODED_INVALID are counted from anomaly_worker_packet().
 *
 * Where the call per packet matters, include anomaly_int.h (internal to
 * detectors/) and call anomaly_worker_packet_inline(): the same code,
 * inlined. */
#ifndef MAMORI_ANOMALY_WORKER_H
#define MAMORI_ANOMALY_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decoder.h"
#include "flow.h"

struct anomaly_worker;

void anomaly_worker_tick(struct anomaly_worker *aw, uint64_t now_ns);

void anomaly_worker_packet(struct anomaly_worker *aw, const struct decoded_packet *d,
                           const struct flow *f, unsigned dir, bool flow_created,
                           uint32_t wirelen);

/* Optional: bring the destination's cells into cache a few packets ahead. */
void anomaly_worker_prefetch(const struct anomaly_worker *aw, const struct decoded_packet *d);

void anomaly_worker_flow_end(struct anomaly_worker *aw, const struct flow *f,
                             enum flow_end_reason reason);

void anomaly_worker_finish(struct anomaly_worker *aw);

/* Readable from any thread. */
uint64_t anomaly_worker_ticks_dropped(const struct anomaly_worker *aw);
/* Bytes this worker holds (all its snapshots), fixed at creation. */
size_t anomaly_worker_memory(const struct anomaly_worker *aw);

#endif
