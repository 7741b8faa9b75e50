/* fuzz_decoder.c - the L2-L4 decoder (dataplane/decoder.h) on any frame.
 *
 * Input: one byte of framing choice, then the frame. The low three bits of
 * the first byte pick the link type (all eight, LINK_UNSUPPORTED included);
 * its top bit says the frame was snapped (the wire length is longer than
 * the capture), which takes the decoder's "snapped" paths. The frame is the
 * rest of the input, so reading past its end is a sanitizer report.
 *
 * Besides crashes, it checks what decoder.h promises: decode_burst() on a
 * burst gives what decode_packet() gives on each packet, every field
 * written (the burst's output starts as garbage, the single one as zeros),
 * the same counts, and offsets that lie within the capture, those of an
 * intermediate tunnel layer's own decode too. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "fuzz.h"

#define SNAPPED_EXTRA 1000u

/* Field by field: padding may differ. */
static bool same_result(const struct decoded_packet *a, const struct decoded_packet *b)
{
    return memcmp(a->src_addr, b->src_addr, 16) == 0 && memcmp(a->dst_addr, b->dst_addr, 16) == 0 &&
           a->src_port == b->src_port && a->dst_port == b->dst_port &&
           a->vlan[0] == b->vlan[0] && a->vlan[1] == b->vlan[1] && a->flags == b->flags &&
           a->ip_version == b->ip_version && a->ip_proto == b->ip_proto && a->ttl == b->ttl &&
           a->tcp_flags == b->tcp_flags && a->icmp_type == b->icmp_type &&
           a->icmp_code == b->icmp_code && a->l3_offset == b->l3_offset &&
           a->l4_offset == b->l4_offset && a->payload_offset == b->payload_offset &&
           a->payload_len == b->payload_len && a->tcp_seq == b->tcp_seq &&
           a->tcp_ack == b->tcp_ack && a->tcp_window == b->tcp_window &&
           a->mid_l3_offset == b->mid_l3_offset;
}

/* An intermediate tunnel layer lies before the result's IP header and
 * decodes on its own (decode_ip_layer()), within the frame. */
static void check_mid_layer(const struct packet *pkt, const struct decoded_packet *one)
{
    struct decoded_packet mid;

    if (one->mid_l3_offset == 0)
        return;
    if (one->mid_l3_offset >= one->l3_offset || !decode_ip_layer(pkt, one->mid_l3_offset, &mid))
        abort();
    if (mid.payload_len > 0 && (uint32_t)mid.payload_offset + mid.payload_len > pkt->caplen)
        abort();
}

/* The burst result must be the single result; offsets within the frame. */
static void check(const struct packet *pkt, const struct decoded_packet *one,
                  const struct decoded_packet *burst)
{
    if (!same_result(one, burst))
        abort();
    if ((one->flags & DECODED_IP) && one->l3_offset > pkt->caplen)
        abort();
    if ((one->flags & DECODED_L4) && one->l4_offset > pkt->caplen)
        abort();
    if (one->payload_len > 0 &&
        (uint32_t)one->payload_offset + one->payload_len > pkt->caplen)
        abort();
    check_mid_layer(pkt, one);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > UINT16_MAX)
        return 0;
    /* A copy of exactly the frame's bytes, so an overread is reported. */
    size_t caplen = size - 1;
    uint8_t *frame = malloc(caplen ? caplen : 1);
    if (frame == NULL)
        return 0;
    memcpy(frame, data + 1, caplen);

    struct packet pkt[2] = { {
        .data = frame,
        .caplen = (uint32_t)caplen,
        .wirelen = (uint32_t)caplen + ((data[0] & 0x80) ? SNAPPED_EXTRA : 0),
        .ts_ns = 1,
        .link_type = data[0] & 7,
    } };
    pkt[1] = pkt[0];

    struct decoded_packet one, burst[2];
    struct decoder_counters c1, c2;
    memset(&one, 0, sizeof(one));
    memset(burst, 0xa5, sizeof(burst));
    memset(&c1, 0, sizeof(c1));
    memset(&c2, 0, sizeof(c2));

    decode_packet(&pkt[0], &one, &c1);
    decode_burst(pkt, burst, 2, &c2);
    check(&pkt[0], &one, &burst[0]);
    check(&pkt[1], &one, &burst[1]);
    for (unsigned i = 0; i < DECODER_COUNTER_COUNT; i++)
        if (c2.v[i] != 2 * c1.v[i])
            abort();
    free(frame);
    return 0;
}
