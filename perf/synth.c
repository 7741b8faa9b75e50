/* synth.c - mamori-synth: write synthetic traffic to a pcap file. */
#include <getopt.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traffic.h"

static void usage(FILE *out)
{
    fprintf(out,
"Usage: mamori-synth -o FILE [options]\n"
"Write synthetic Ethernet/IPv4 traffic to a pcap file.\n"
"  -o, --output FILE   pcap file to write\n"
"  -f, --flows N       distinct flows (default 1000000)\n"
"  -n, --packets N     packets (default 2000000)\n"
"  -s, --size S        frame size with FCS, 64..1518, or imix (default 64)\n"
"  -z, --zipf A        Zipf flow popularity with exponent A (default: uniform)\n"
"  -p, --proto P       udp, tcp, or syn: a SYN flood, each flow a spoofed\n"
"                      source (address and port) to " SYNTH_VICTIM ":80 (default udp)\n"
"      --pps N         packet rate for timestamps (default 14880952)\n"
"  -h, --help          this help\n");
}

static int write_frame(void *ctx, const uint8_t *frame, uint32_t len, uint64_t ts_ns)
{
    struct pcap_pkthdr h = {
        .ts = { .tv_sec = (time_t)(ts_ns / 1000000000ull), .tv_usec = (suseconds_t)(ts_ns % 1000000000ull / 1000) },
        .caplen = len,
        .len = len,
    };
    pcap_dump(ctx, &h, frame);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "output", required_argument, NULL, 'o' }, { "flows", required_argument, NULL, 'f' },
        { "packets", required_argument, NULL, 'n' }, { "size", required_argument, NULL, 's' },
        { "zipf", required_argument, NULL, 'z' }, { "proto", required_argument, NULL, 'p' },
        { "pps", required_argument, NULL, 'R' }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct synth_config cfg;
    const char *output = NULL;
    int c;

    synth_config_default(&cfg);
    while ((c = getopt_long(argc, argv, "o:f:n:s:z:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'f': cfg.flows = strtoull(optarg, NULL, 10); break;
        case 'n': cfg.packets = strtoull(optarg, NULL, 10); break;
        case 's':
            if (synth_parse_size(optarg, &cfg.size) < 0) {
                fprintf(stderr, "mamori-synth: -s: '%s' is not 64..1518 or imix\n", optarg);
                return 2;
            }
            break;
        case 'z': cfg.zipf = strtod(optarg, NULL); break;
        case 'p':
            if (synth_parse_proto(optarg, &cfg) < 0) {
                fprintf(stderr, "mamori-synth: -p: '%s' is not udp, tcp or syn\n", optarg);
                return 2;
            }
            break;
        case 'R': cfg.pps = strtoull(optarg, NULL, 10); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (output == NULL || cfg.flows == 0) {
        fprintf(stderr, "mamori-synth: give -o FILE and at least one flow\n");
        return 2;
    }
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
    pcap_dumper_t *dump = pcap_dump_open(dead, output);
    if (dump == NULL) {
        fprintf(stderr, "mamori-synth: %s: %s\n", output, pcap_geterr(dead));
        return 1;
    }
    synth_generate(&cfg, write_frame, dump);
    pcap_dump_close(dump);
    pcap_close(dead);
    return 0;
}
