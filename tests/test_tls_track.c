/* test_tls_track.c - where a TLS session turns encrypted: TLS 1.2 (both
 * ChangeCipherSpecs), TLS 1.3 (the first application data record), records
 * and headers split across segments at every byte; which later bytes may go
 * unmatched (application data only, never a heartbeat); and traffic that is
 * not TLS, which is never taken for it. */
#include <string.h>

#include "cunit_run.h"
#include "tls_track.h"

#define C2S 0
#define S2C 1

/* A record of content type `type` with `len` bytes of body (0x42) into out. */
static uint32_t record(uint8_t *out, uint8_t type, uint16_t version, uint32_t len)
{
    out[0] = type;
    out[1] = (uint8_t)(version >> 8);
    out[2] = (uint8_t)version;
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
    memset(out + 5, 0x42, len);
    return 5 + len;
}

/* TLS 1.2: ClientHello, ServerHello..Done, client CCS (+ Finished), server
 * CCS: encrypted at the second ChangeCipherSpec, not before. */
static void test_tls12(void)
{
    struct tls_track t = { 0 };
    uint8_t buf[8192];
    uint32_t n;

    n = record(buf, 22, 0x0301, 300);                      /* ClientHello */
    CU_ASSERT_FALSE(tls_track_feed(&t, C2S, buf, n));
    n = record(buf, 22, 0x0303, 4000);                     /* ServerHello, Certificate.. */
    CU_ASSERT_FALSE(tls_track_feed(&t, S2C, buf, n));
    n = record(buf, 22, 0x0303, 70);                       /* ClientKeyExchange */
    n += record(buf + n, 20, 0x0303, 1);                   /* ChangeCipherSpec */
    n += record(buf + n, 22, 0x0303, 40);                  /* Finished (encrypted) */
    CU_ASSERT_FALSE(tls_track_feed(&t, C2S, buf, n));
    CU_ASSERT_FALSE(t.encrypted);                          /* one side only */
    n = record(buf, 20, 0x0303, 1);
    n += record(buf + n, 22, 0x0303, 40);
    CU_ASSERT_FALSE(tls_track_feed(&t, S2C, buf, n));      /* matched: it turns */
    CU_ASSERT_TRUE(t.encrypted);
    n = record(buf, 23, 0x0303, 3000);
    CU_ASSERT_TRUE(tls_track_feed(&t, C2S, buf, 1000));    /* then ciphertext only */
    CU_ASSERT_TRUE(tls_track_feed(&t, C2S, buf + 1000, n - 1000));
}

/* After the handshake a heartbeat (Heartbleed), an alert or a renegotiation
 * record is matched, alone or behind application data; ciphertext around
 * them is not. */
static void test_other_records_matched(void)
{
    struct tls_track t = { 0 };
    uint8_t buf[4096];
    uint32_t n = record(buf, 23, 0x0303, 100);
    CU_ASSERT_FALSE(tls_track_feed(&t, S2C, buf, n));
    CU_ASSERT_TRUE(t.encrypted);
    static const uint8_t types[] = { 24, 21, 22 };
    for (unsigned i = 0; i < sizeof(types); i++) {
        n = record(buf, 23, 0x0303, 50);
        n += record(buf + n, types[i], 0x0302, 3);
        CU_ASSERT_FALSE(tls_track_feed(&t, C2S, buf, n));
        n = record(buf, 23, 0x0303, 60);
        CU_ASSERT_TRUE(tls_track_feed(&t, C2S, buf, n));
    }
}

/* TLS 1.3: the server's encrypted handshake comes as application data. */
static void test_tls13(void)
{
    struct tls_track t = { 0 };
    uint8_t buf[4096];
    uint32_t n;

    n = record(buf, 22, 0x0301, 500);
    CU_ASSERT_FALSE(tls_track_feed(&t, C2S, buf, n));
    n = record(buf, 22, 0x0303, 90);                       /* ServerHello */
    n += record(buf + n, 20, 0x0303, 1);                   /* compatibility CCS */
    CU_ASSERT_FALSE(tls_track_feed(&t, S2C, buf, n));
    n = record(buf, 23, 0x0303, 2000);
    CU_ASSERT_FALSE(tls_track_feed(&t, S2C, buf, n));
    CU_ASSERT_TRUE(t.encrypted);
}

/* The same TLS 1.3 server flight cut at every byte: headers and records
 * across segments change nothing, and the cut that completes the
 * application data header is where it turns. */
static void test_split_everywhere(void)
{
    uint8_t buf[4096];
    uint32_t n = record(buf, 22, 0x0303, 90);
    n += record(buf + n, 20, 0x0303, 1);
    uint32_t app = n;                                      /* the 23 record's header */
    n += record(buf + n, 23, 0x0303, 700);

    for (uint32_t cut = 1; cut < n; cut++) {
        struct tls_track t = { 0 };
        CU_ASSERT_FALSE(tls_track_feed(&t, S2C, buf, cut));
        CU_ASSERT_EQUAL(t.encrypted, cut >= app + TLS_RECORD_HEADER);
        bool rest = tls_track_feed(&t, S2C, buf + cut, n - cut);
        CU_ASSERT_EQUAL(rest, cut >= app + TLS_RECORD_HEADER);   /* ciphertext only */
        CU_ASSERT_TRUE(t.encrypted);
    }
    /* byte by byte: each byte after the header is skipped */
    struct tls_track t = { 0 };
    for (uint32_t i = 0; i < n; i++)
        CU_ASSERT_EQUAL(tls_track_feed(&t, S2C, buf + i, 1), i >= app + TLS_RECORD_HEADER);
}

/* Not TLS: HTTP, SSLv2's ClientHello, an implausible length, a record
 * stream that loses step (a gap). None of them turns the flow encrypted,
 * whatever follows. */
static void test_not_tls(void)
{
    static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    uint8_t buf[256];
    struct tls_track t = { 0 };

    CU_ASSERT_FALSE(tls_track_feed(&t, C2S, (const uint8_t *)http, sizeof(http) - 1));
    record(buf, 23, 0x0303, 100);
    CU_ASSERT_FALSE(tls_track_feed(&t, C2S, buf, 105));    /* that side is not followed */
    CU_ASSERT_FALSE(t.encrypted);

    static const uint8_t sslv2[] = { 0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15 };
    struct tls_track v2 = { 0 };
    CU_ASSERT_FALSE(tls_track_feed(&v2, C2S, sslv2, sizeof(sslv2)));
    CU_ASSERT_FALSE(tls_track_feed(&v2, C2S, buf, 105));

    struct tls_track big = { 0 };
    uint8_t huge[5] = { 22, 3, 3, 0xff, 0xff };             /* past 2^14 + 2048 */
    CU_ASSERT_FALSE(tls_track_feed(&big, C2S, huge, sizeof(huge)));
    CU_ASSERT_FALSE(tls_track_feed(&big, C2S, buf, 105));

    struct tls_track gap = { 0 };
    uint32_t n = record(buf, 22, 0x0301, 50);
    CU_ASSERT_FALSE(tls_track_feed(&gap, C2S, buf, n));
    CU_ASSERT_FALSE(tls_track_feed(&gap, C2S, (const uint8_t *)http, 20));   /* lost step */
    record(buf, 23, 0x0303, 100);
    CU_ASSERT_FALSE(tls_track_feed(&gap, C2S, buf, 105));
    record(buf, 20, 0x0303, 1);                            /* the other side alone */
    CU_ASSERT_FALSE(tls_track_feed(&gap, S2C, buf, 6));
    CU_ASSERT_FALSE(gap.encrypted || v2.encrypted || big.encrypted);
}

static CU_TestInfo cases[] = {
    { "TLS 1.2: encrypted after both ChangeCipherSpecs", test_tls12 },
    { "TLS 1.3: encrypted at application data", test_tls13 },
    { "records and headers split at every byte", test_split_everywhere },
    { "heartbeat, alert, handshake records matched", test_other_records_matched },
    { "not TLS, or out of step: never encrypted", test_not_tls },
    CU_TEST_INFO_NULL,
};

int main(void)
{
    return cunit_run("tls_track", cases);
}
