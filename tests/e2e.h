/* e2e.h - helpers for end-to-end tests that drive the real binaries.
 *
 * Tests find the programs and data through the environment meson sets:
 *   MAMORI_BIN    the mamori executable under test
 *   MAMORI_DATA   ../shared/data (captures, rules, expected alerts)
 * Each run gets a fresh directory under $TMPDIR, removed afterwards. */
#ifndef MAMORI_TESTS_E2E_H
#define MAMORI_TESTS_E2E_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

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

/* mamori ARGS in the background, its output in dir/stdout and dir/stderr;
 * its pid. */
pid_t e2e_spawn_mamori(const char *dir, const char *args);
/* SIGTERM it (when term; else it is exiting by itself) and wait up to 60 s:
 * its exit status, or -1 when it had to be killed (a hang) or crashed. */
int e2e_stop_mamori(pid_t pid, bool term);
/* A port nobody listens on now (TCP, or UDP when udp). */
unsigned e2e_free_port(bool udp);

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

/* Whether the file at path contains text (said on stderr when not). */
bool e2e_file_has(const char *path, const char *text);

#endif
