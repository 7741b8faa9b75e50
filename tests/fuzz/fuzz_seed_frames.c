/* fuzz_seed_frames.c - seeds for fuzz_decoder from captures: each frame of
 * each capture (pcap or pcapng) as one file, in the harness's input
 * format: a byte naming the link type (enum link_type, top bit set when
 * the frame was snapped), then the frame.
 *
 *     fuzz_seed_frames OUTDIR MAX_PER_CAPTURE CAPTURE ...
 *
 * Files are named <capture>-<frame number>; captures whose link type the
 * decoder does not know are passed over. scripts/fuzz runs it. */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"

#define FRAME_MAX 65535u

static int write_frame(const char *path, uint8_t head, const uint8_t *frame, uint32_t len)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL) {
        fprintf(stderr, "fuzz_seed_frames: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fputc(head, f);
    fwrite(frame, 1, len, f);
    if (fclose(f) != 0) {
        fprintf(stderr, "fuzz_seed_frames: %s: write error\n", path);
        return -1;
    }
    return 0;
}

/* Up to max frames of one capture. Returns how many were written, -1 on a
 * write error; a capture that cannot be read is named and skipped. */
static int seed_capture(const char *outdir, const char *capture, long max)
{
    char errbuf[PCAP_ERRBUF_SIZE], path[4096];
    struct pcap_pkthdr *h;
    const u_char *bytes;
    pcap_t *p = pcap_open_offline(capture, errbuf);
    int n = 0;

    if (p == NULL) {
        fprintf(stderr, "fuzz_seed_frames: %s: %s (skipped)\n", capture, errbuf);
        return 0;
    }
    enum link_type lt = link_type_from_dlt(pcap_datalink(p));
    const char *base = strrchr(capture, '/') ? strrchr(capture, '/') + 1 : capture;
    while (lt != LINK_UNSUPPORTED && n < max && pcap_next_ex(p, &h, &bytes) == 1) {
        if (h->caplen > FRAME_MAX)
            continue;
        uint8_t head = (uint8_t)lt | (h->len > h->caplen ? 0x80 : 0);
        snprintf(path, sizeof(path), "%s/%s-%d", outdir, base, n + 1);
        if (write_frame(path, head, bytes, h->caplen) < 0) {
            pcap_close(p);
            return -1;
        }
        n++;
    }
    pcap_close(p);
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s OUTDIR MAX_PER_CAPTURE CAPTURE ...\n", argv[0]);
        return 2;
    }
    long max = strtol(argv[2], NULL, 10);
    long total = 0;
    for (int i = 3; i < argc; i++) {
        int n = seed_capture(argv[1], argv[i], max);
        if (n < 0)
            return 1;
        total += n;
    }
    printf("fuzz_seed_frames: %ld frames from %d captures\n", total, argc - 3);
    return 0;
}
