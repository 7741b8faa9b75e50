/* tls_track.c - the TLS record layer, followed to the start of encryption. */
#include "tls_track.h"

enum {
    TLS_DIR_UNKNOWN = 0,   /* nothing seen yet */
    TLS_DIR_RECORDS,       /* in step with the records */
    TLS_DIR_NOT,           /* not TLS, or lost: no longer followed */
};

enum {
    TLS_CHANGE_CIPHER_SPEC = 20,
    TLS_ALERT = 21,
    TLS_HANDSHAKE = 22,
    TLS_APPLICATION_DATA = 23,
    TLS_HEARTBEAT = 24,
};

#define TLS_RECORD_MAX (16384 + 2048)   /* TLSCiphertext.length at most 2^14 + 2048 */

/* A record header: a known content type, major version 3, a length a record
 * may have. */
static bool record_header_ok(const uint8_t h[TLS_RECORD_HEADER])
{
    uint32_t len = (uint32_t)h[3] << 8 | h[4];
    return h[0] >= TLS_CHANGE_CIPHER_SPEC && h[0] <= TLS_HEARTBEAT && h[1] == 3 &&
           h[2] <= 4 && len > 0 && len <= TLS_RECORD_MAX;
}

/* One whole record header of direction d: start passing its record.
 * Returns whether it was an application data header. */
static bool take_header(struct tls_track *t, struct tls_track_dir *d, const uint8_t *h)
{
    if (!record_header_ok(h)) {
        d->state = TLS_DIR_NOT;
        return false;
    }
    d->state = TLS_DIR_RECORDS;
    d->skip = (uint32_t)h[3] << 8 | h[4];
    if (h[0] == TLS_APPLICATION_DATA)
        t->encrypted = true;
    if (h[0] == TLS_CHANGE_CIPHER_SPEC)
        d->ccs = true;
    if (t->dir[0].ccs && t->dir[1].ccs)
        t->encrypted = true;
    return h[0] == TLS_APPLICATION_DATA;
}

bool tls_track_feed(struct tls_track *t, unsigned dir, const uint8_t *data, uint32_t len)
{
    struct tls_track_dir *d = &t->dir[dir & 1];
    bool skip = t->encrypted && d->state == TLS_DIR_RECORDS;
    uint32_t pos = 0;

    while (d->state != TLS_DIR_NOT && pos < len) {
        if (d->skip > 0) {                       /* inside a record */
            uint32_t n = len - pos < d->skip ? len - pos : d->skip;
            d->skip -= n;
            pos += n;
        } else if (d->have > 0 || len - pos < TLS_RECORD_HEADER) {
            d->hdr[d->have++] = data[pos++];     /* a header across segments */
            if (d->have == TLS_RECORD_HEADER) {
                d->have = 0;
                skip &= take_header(t, d, d->hdr);
            }
        } else {
            skip &= take_header(t, d, data + pos);
            pos += TLS_RECORD_HEADER;
        }
    }
    return skip && d->state == TLS_DIR_RECORDS;
}
