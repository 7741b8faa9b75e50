/* e2e.h - helpers for end-to-end tests that drive the real binaries.
 *
 * Tests find the programs and data through the environment meson sets:
 *   MAMORI_BIN    the mamori executable under test
 *   MAMORI_DATA   ../shared/data (captures, rules, expected alerts)
 * Each run gets a fresh directory under $TMPDIR, removed afterwards. */
#ifndef MAMORI_TESTS_E2E_H
#define MAMORI_TESTS_E2E_H

#include <stddef.h>

#include <jansson.h>

/* $MAMORI_BIN / $MAMORI_DATA, or abort with a message. */
const char *e2e_mamori(void);
/* $MAMORICTL_BIN, or abort with a message. */
const char *e2e_mamorictl(void);
/* EAL memory options for a test sensor: hugepages (--in-memory) when 256
 * are free, else plain memory (--no-huge -m 512 --no-shconf). */
const char *e2e_eal_memory_args(void);
void e2e_sleep_ms(unsigned ms);
const char *e2e_data(void);
/* "MAMORI_DATA/rel" in a static buffer reused by the next call. */
const char *e2e_data_path(const char *rel);

/* A new empty directory; e2e_rmdir() removes it with its files. */
char *e2e_mkdtemp(void);
void e2e_rmdir(char *dir);

/* Run a shell command; returns its exit status (-1 if it did not exit). */
int e2e_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The events of an eve.json, of one event_type (NULL = all), as an array. */
json_t *e2e_read_events(const char *eve_path, const char *event_type);

/* Flow events as canonical strings (compact JSON, sorted keys), sorted, so
 * two runs can be compared line by line. */
json_t *e2e_flow_lines(const char *eve_path);

/* Counts tshark gives: conversations from -z conv,tcp and -z conv,udp.
 * 0, or -1 when tshark failed. */
int e2e_tshark_conversations(const char *pcap, unsigned *tcp, unsigned *udp);

/* The last stats event's counter section.key, 0 if absent. */
long long e2e_stat(const char *eve_path, const char *section, const char *key);

/* Paths of the shared nDPI captures with a link type mamori decodes
 * (Ethernet, raw IP, Linux SLL, null), sorted. */
json_t *e2e_ndpi_captures(void);

#endif
