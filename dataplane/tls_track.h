/* tls_track.h - where a TCP flow's TLS session turns encrypted.
 *
 * Past the TLS handshake a flow carries ciphertext, and a content rule
 * that matches ciphertext is noise. Suricata's default (app-layer.protocols
 * .tls.encryption-handling: default) therefore stops matching unmodified
 * content rules there, and so does mamori (stream.inspect-encrypted: no):
 * header rules still run, the bytes are counted, not scanned. Only bytes
 * that are application data throughout are passed over: a span holding
 * another record's header (a heartbeat - Heartbleed rules match those -
 * an alert, a renegotiation) is matched as usual.
 *
 * This follows the TLS record layer of each direction's in-order bytes. A
 * direction is TLS when its first bytes are a record header (content type
 * 20..24, version 3.x, a length no record exceeds); records are then passed
 * by their lengths, across segments, each header checked the same way. The
 * flow is encrypted once either direction sends application data (23: TLS
 * 1.2 data, or TLS 1.3's encrypted handshake) or both have sent
 * ChangeCipherSpec (20). A direction whose bytes stop looking like records
 * (not TLS: HTTP, SSLv2, STARTTLS before its upgrade; or a gap in the
 * stream) is no longer followed, and its bytes are always matched.
 *
 * State is per flow, zeroed when the flow starts; no allocation. */
#ifndef MAMORI_TLS_TRACK_H
#define MAMORI_TLS_TRACK_H

#include <stdbool.h>
#include <stdint.h>

#define TLS_RECORD_HEADER 5

struct tls_track_dir {
    uint32_t skip;                       /* bytes of the current record still to pass */
    uint8_t hdr[TLS_RECORD_HEADER];      /* a record header split across segments */
    uint8_t have;                        /* bytes of it held */
    uint8_t state;                       /* enum in tls_track.c */
    bool ccs;                            /* ChangeCipherSpec sent */
};

struct tls_track {
    struct tls_track_dir dir[2];
    bool encrypted;
};

/* The next in-order bytes of direction dir (0 or 1). Returns true when they
 * may go unmatched: the flow was encrypted before them, the direction is in
 * step, and they hold nothing but application data records. */
bool tls_track_feed(struct tls_track *t, unsigned dir, const uint8_t *data, uint32_t len);

#endif
