/* test_e2e_export.c - the exporters end to end: a real redis-server (list
 * and stream, and a restart while alerts keep coming), syslog over UDP and
 * a Unix socket consumer against the EVE file, /metrics checked by
 * promtool while a looping capture runs, and sinks that go down for good
 * (Redis stopped, a syslog listener gone, UDP to a closed port) while the
 * sensor runs on. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cunit_run.h"
#include "e2e.h"

/* The brief's rule: every established TCP packet alerts. */
#define RULE_ESTABLISHED "alert tcp any any -> any any (msg:\"x\"; flow:established; sid:1;)\n"
/* For looping captures: at most 100 alerts a second, whatever the rate. */
#define RULE_UDP_LIMITED "alert udp any any -> any any (msg:\"udp\"; threshold: type limit, " \
                         "track by_rule, count 100, seconds 1; sid:2;)\n"
/* A small DNS capture without jumbo frames, which net_pcap's infinite_rx
 * replays from memory for as long as the test needs. */
#define LOOP_PCAP "pcaps/ndpi/dns_exfiltration.pcap"

static const char *sample_pcap(void)
{
    static char path[4096];
    snprintf(path, sizeof(path), "%s/tests/data/sample.pcap", getenv("MAMORI_SOURCE"));
    return path;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* The lines of a file, newline removed. */
static json_t *read_lines(const char *path)
{
    json_t *lines = json_array();
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    if (f == NULL)
        return lines;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        if (n > 0)
            json_array_append_new(lines, json_stringn(line, (size_t)n));
    }
    free(line);
    fclose(f);
    return lines;
}

/* Line i, "" when there is none (a failed command must fail the test,
 * not crash it with the Redis server still running). */
static const char *line_at(json_t *lines, size_t i)
{
    const char *s = json_string_value(json_array_get(lines, i));
    return s ? s : "";
}

static json_t *eve_lines(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/eve.json", dir);
    return read_lines(path);
}

/* Lines whose event_type is type. */
static size_t count_type(json_t *lines, const char *type)
{
    char needle[64];
    size_t i, n = 0;
    json_t *l;

    snprintf(needle, sizeof(needle), "\"event_type\":\"%s\"", type);
    json_array_foreach(lines, i, l)
        n += strstr(json_string_value(l), needle) != NULL;
    return n;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether every line of sub is in all, as many times (multisets). */
static bool is_sub_multiset(json_t *sub, json_t *all)
{
    size_t n = json_array_size(sub), m = json_array_size(all), j = 0;
    const char **a = calloc(n + 1, sizeof(char *)), **b = calloc(m + 1, sizeof(char *));
    bool ok = true;

    for (size_t i = 0; i < n; i++)
        a[i] = json_string_value(json_array_get(sub, i));
    for (size_t i = 0; i < m; i++)
        b[i] = json_string_value(json_array_get(all, i));
    qsort(a, n, sizeof(char *), cmp_str);
    qsort(b, m, sizeof(char *), cmp_str);
    for (size_t i = 0; i < n && ok; i++) {
        while (j < m && strcmp(b[j], a[i]) < 0)
            j++;
        ok = j < m && strcmp(b[j], a[i]) == 0;
        j++;
    }
    free(a);
    free(b);
    return ok;
}

/* "mamori: export SINK: W written, D dropped, E errors, B buffered" from
 * mamori's stderr. false if absent. */
static bool export_summary(const char *dir, const char *sink, unsigned long long *written,
                           unsigned long long *dropped, unsigned long long *buffered)
{
    char path[4200], line[512], prefix[64];
    unsigned long long errors;
    bool found = false;

    snprintf(path, sizeof(path), "%s/stderr", dir);
    snprintf(prefix, sizeof(prefix), "mamori: export %s: ", sink);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, prefix, strlen(prefix)) == 0 &&
            sscanf(line + strlen(prefix), "%llu written, %llu dropped, %llu errors, %llu buffered",
                   written, dropped, &errors, buffered) == 4)
            found = true;
    fclose(f);
    return found;
}

/* A shell command's exit status, quietly (for polling). */
static int quiet(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int quiet(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* A redis-server of the test's own, in dir, on port. */
static bool redis_start(const char *dir, unsigned port)
{
    if (e2e_run("redis-server --port %u --bind 127.0.0.1 --dir '%s' --save '' --appendonly no "
                "--daemonize yes --pidfile '%s/redis.pid' --logfile '%s/redis.log'",
                port, dir, dir, dir) != 0)
        return false;
    for (int i = 0; i < 100; i++) {
        if (quiet("redis-cli -p %u ping 2>/dev/null | grep -q PONG", port) == 0)
            return true;
        e2e_sleep_ms(50);
    }
    return false;
}

static void redis_shutdown(unsigned port)
{
    e2e_run("redis-cli -p %u shutdown nosave >/dev/null 2>&1", port);
    for (int i = 0; i < 100 && quiet("redis-cli -p %u ping >/dev/null 2>&1", port) == 0; i++)
        e2e_sleep_ms(50);
}

/* LRANGE key 0 -1 as lines (--raw: one element a line; EVE lines hold no
 * raw newline). */
static json_t *redis_list(const char *dir, unsigned port, const char *key)
{
    static unsigned n;
    char path[4200];
    snprintf(path, sizeof(path), "%s/list-%u.txt", dir, n++);
    e2e_run("redis-cli -p %u --raw lrange '%s' 0 -1 > '%s'", port, key, path);
    return read_lines(path);
}

static const char *dpdk_args(const char *dir, const char *extra)
{
    static char args[8192];
    snprintf(args, sizeof(args), "--dpdk -w 1 -S '%s/rules' --rule-cache none -l '%s' %s "
             "-- -l 0-1 --no-pci %s --log-level=lib.eal:error "
             "--vdev='net_pcap0,rx_pcap=%s,infinite_rx=1'",
             dir, dir, extra, e2e_eal_memory_args(), e2e_data_path(LOOP_PCAP));
    return args;
}

/* Redis list: exactly the lines of the EVE file, in order, alerts and all. */
static void test_redis_list_equals_eve(void)
{
    char *dir = e2e_mkdtemp();
    unsigned port = e2e_free_port(false);

    CU_ASSERT_FATAL(redis_start(dir, port));
    write_file(dir, "rules", RULE_ESTABLISHED);
    CU_ASSERT_EQUAL(e2e_run("'%s' -r '%s' -S '%s/rules' --rule-cache none -l '%s' "
                            "--redis 127.0.0.1:%u,list,key=mamori:eve 2>'%s/stderr'",
                            e2e_mamori(), sample_pcap(), dir, dir, port, dir), 0);
    json_t *eve = eve_lines(dir), *list = redis_list(dir, port, "mamori:eve");
    unsigned long long w = 0, d = 0, b = 0;

    printf("\n  %zu EVE lines (%zu alerts), %zu in the Redis list\n", json_array_size(eve),
           count_type(eve, "alert"), json_array_size(list));
    CU_ASSERT(count_type(eve, "alert") > 0);
    CU_ASSERT(json_equal(eve, list));
    CU_ASSERT_EQUAL(count_type(list, "alert"), count_type(eve, "alert"));
    CU_ASSERT(export_summary(dir, "redis", &w, &d, &b));
    CU_ASSERT_EQUAL(w, json_array_size(eve));
    CU_ASSERT_EQUAL(d + b, 0);
    json_decref(eve);
    json_decref(list);
    redis_shutdown(port);
    e2e_rmdir(dir);
}

/* Stream mode: XADD with MAXLEN; every event is an entry, field "eve". */
static void test_redis_stream(void)
{
    char *dir = e2e_mkdtemp(), path[4200];
    unsigned port = e2e_free_port(false);

    CU_ASSERT_FATAL(redis_start(dir, port));
    write_file(dir, "rules", RULE_ESTABLISHED);
    CU_ASSERT_EQUAL(e2e_run("'%s' -r '%s' -S '%s/rules' --rule-cache none -l '%s' "
                            "--redis localhost:%u,stream,key=s,maxlen=1000000 2>'%s/stderr'",
                            e2e_mamori(), sample_pcap(), dir, dir, port, dir), 0);
    json_t *eve = eve_lines(dir);
    snprintf(path, sizeof(path), "%s/xlen", dir);
    e2e_run("redis-cli -p %u xlen s > '%s'", port, path);
    json_t *xlen = read_lines(path);
    snprintf(path, sizeof(path), "%s/first", dir);
    e2e_run("redis-cli -p %u --raw xrange s - + count 1 > '%s'", port, path);
    json_t *first = read_lines(path);   /* id, field, value */

    CU_ASSERT_EQUAL(atol(line_at(xlen, 0)), (long)json_array_size(eve));
    CU_ASSERT_STRING_EQUAL(line_at(first, 1), "eve");
    CU_ASSERT_STRING_EQUAL(line_at(first, 2), line_at(eve, 0));
    json_decref(eve);
    json_decref(xlen);
    json_decref(first);
    redis_shutdown(port);
    e2e_rmdir(dir);
}

/* A redis-server on port and mamori on a looping capture raising 100
 * alerts a second into its list "k" (buffer lines held while Redis is
 * away), running for 2.5 s already. */
static pid_t spawn_with_redis(const char *dir, unsigned port, unsigned buffer)
{
    char extra[256];

    CU_ASSERT_FATAL(redis_start(dir, port));
    write_file(dir, "rules", RULE_UDP_LIMITED);
    snprintf(extra, sizeof(extra), "--stats-interval 1 --redis 127.0.0.1:%u,list,key=k,buffer=%u",
             port, buffer);
    pid_t pid = e2e_spawn_mamori(dir, dpdk_args(dir, extra));
    e2e_sleep_ms(2500);
    return pid;
}

/* Redis goes away while alerts keep coming (a looping capture) and comes
 * back: what was raised meanwhile is delivered from the buffer or counted
 * as dropped; nothing is lost silently and nothing is delivered twice.
 * Before the shutdown the test pauses Redis's writes and reads the list,
 * so that the list read is everything the old server acknowledged
 * (shutdown nosave loses it). */
static void test_redis_restart(void)
{
    char *dir = e2e_mkdtemp();
    unsigned port = e2e_free_port(false);
    pid_t pid = spawn_with_redis(dir, port, 150);

    e2e_run("redis-cli -p %u client pause 60000 write >/dev/null", port);
    e2e_sleep_ms(200);
    json_t *before = redis_list(dir, port, "k");
    redis_shutdown(port);
    e2e_sleep_ms(2000);                  /* down: alerts fill the buffer, then drop */
    CU_ASSERT(redis_start(dir, port));   /* not fatal: mamori must still be stopped */
    e2e_sleep_ms(4000);                  /* the backoff's next attempt (3.1 s after the
                                      * shutdown), delivery, alerts after */
    CU_ASSERT_EQUAL(e2e_stop_mamori(pid, true), 0);
    json_t *after = redis_list(dir, port, "k");
    json_t *eve = eve_lines(dir);
    unsigned long long written = 0, dropped = 0, buffered = 0, fw = 0, fd = 0, fb = 0;

    CU_ASSERT(export_summary(dir, "redis", &written, &dropped, &buffered));
    CU_ASSERT(export_summary(dir, "file", &fw, &fd, &fb));
    size_t delivered = json_array_size(before) + json_array_size(after);
    size_t produced = json_array_size(eve);
    printf("\n  produced %zu events (%zu alerts); Redis: %zu before the restart + %zu after "
           "= %zu delivered, %llu dropped, %llu left buffered at exit\n",
           produced, count_type(eve, "alert"), json_array_size(before), json_array_size(after),
           delivered, dropped, buffered);
    CU_ASSERT_EQUAL(fw, produced);           /* the file lost nothing */
    CU_ASSERT_EQUAL(fd, 0);
    CU_ASSERT(json_array_size(before) > 0);
    CU_ASSERT(json_array_size(after) > 0);
    CU_ASSERT(dropped > 0);                  /* the buffer of 150 overflowed */
    CU_ASSERT_EQUAL(delivered, written);     /* acknowledged = in Redis, no duplicate */
    CU_ASSERT_EQUAL(delivered + dropped + buffered, produced);
    CU_ASSERT(is_sub_multiset(before, eve));
    CU_ASSERT(is_sub_multiset(after, eve));
    json_decref(before);
    json_decref(after);
    json_decref(eve);
    redis_shutdown(port);
    e2e_rmdir(dir);
}

/* Consumers the test runs: a UDP syslog collector and a Unix stream
 * socket, each gathering what it receives until told to stop. */
struct consumer {
    int fd;
    bool stream;
    volatile bool stop;
    char *data;                  /* stream: all bytes; dgram: datagrams, '\n' after each */
    size_t len, cap;
    pthread_t thread;
};

static void consumer_append(struct consumer *c, const char *buf, size_t n, bool newline)
{
    if (c->len + n + 2 > c->cap) {
        c->cap = (c->len + n + 2) * 2;
        c->data = realloc(c->data, c->cap);
    }
    memcpy(c->data + c->len, buf, n);
    c->len += n;
    if (newline)
        c->data[c->len++] = '\n';
    c->data[c->len] = '\0';
}

static void *consumer_run(void *arg)
{
    struct consumer *c = arg;
    char *buf = malloc(1 << 16);         /* one per thread: both run at once */
    int fd = c->fd, idle = 0;

    if (c->stream) {
        struct pollfd p = { .fd = c->fd, .events = POLLIN };
        while (!c->stop && poll(&p, 1, 100) == 0)
            ;
        if (c->stop) {
            free(buf);
            return NULL;
        }
        fd = accept(c->fd, NULL, NULL);
    }
    /* After stop, read on until 300 ms pass without data. */
    while (idle < 3) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 100) <= 0) {
            idle += c->stop;
            continue;
        }
        ssize_t n = recv(fd, buf, 1 << 16, 0);
        if (n <= 0) {
            if (c->stream)
                break;
            continue;
        }
        consumer_append(c, buf, (size_t)n, !c->stream);
    }
    if (c->stream)
        close(fd);
    free(buf);
    return NULL;
}

static void consumer_start(struct consumer *c, int fd, bool stream)
{
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->stream = stream;
    consumer_append(c, "", 0, false);
    pthread_create(&c->thread, NULL, consumer_run, c);
}

static json_t *consumer_lines(struct consumer *c)
{
    json_t *lines = json_array();
    char *save = NULL;

    c->stop = true;
    pthread_join(c->thread, NULL);
    for (char *l = strtok_r(c->data, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        json_array_append_new(lines, json_string(l));
    free(c->data);
    close(c->fd);
    return lines;
}

/* RFC 5424: "<PRI>1 TIMESTAMP HOST APP PROCID MSGID - MSG". The MSG of
 * each, and the header checked against the event. */
static json_t *syslog_messages(json_t *datagrams, unsigned *bad_headers)
{
    json_t *msgs = json_array();
    size_t i;
    json_t *d;

    *bad_headers = 0;
    json_array_foreach(datagrams, i, d) {
        const char *s = json_string_value(d);
        int pri, version, off = 0;
        char ts[64], host[256], app[64], procid[32], msgid[64];
        if (sscanf(s, "<%d>%d %63s %255s %63s %31s %63s - %n", &pri, &version, ts, host, app,
                   procid, msgid, &off) != 7 || off == 0) {
            if ((*bad_headers)++ == 0)
                fprintf(stderr, "bad syslog message: %.300s\n", s);
            continue;
        }
        const char *msg = s + off;
        json_t *ev = json_loads(msg, 0, NULL);
        const char *type = json_string_value(json_object_get(ev, "event_type"));
        int sev = pri % 8, want = 6;
        if (type && strcmp(type, "alert") == 0) {
            json_int_t a = json_integer_value(json_object_get(json_object_get(ev, "alert"), "severity"));
            want = a == 1 ? 2 : a == 2 ? 3 : a == 3 ? 4 : 5;
        }
        if (version != 1 || pri / 8 != 21 || sev != want || strcmp(app, "mamori") != 0 ||
            type == NULL || strcmp(msgid, type) != 0 || ts[strlen(ts) - 1] != 'Z') {
            if ((*bad_headers)++ == 0)
                fprintf(stderr, "bad syslog header: %.300s\n", s);
        }
        json_decref(ev);
        json_array_append_new(msgs, json_string(msg));
    }
    return msgs;
}

/* syslog over UDP and a Unix stream consumer receive what the file holds:
 * the same lines, in the same order. */
static void test_syslog_and_unix_socket_equal_eve(void)
{
    char *dir = e2e_mkdtemp(), sock_path[4200];
    struct consumer udp, unx;
    int size = 64 << 20;

    /* The collector: big enough a buffer for the whole run (UDP drops
     * silently what the receiver has no room for). */
    int ufd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof(a);
    if (setsockopt(ufd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
        setsockopt(ufd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    CU_ASSERT_FATAL(bind(ufd, (struct sockaddr *)&a, sizeof(a)) == 0);
    getsockname(ufd, (struct sockaddr *)&a, &alen);
    consumer_start(&udp, ufd, false);

    snprintf(sock_path, sizeof(sock_path), "%s/eve.sock", dir);
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    CU_ASSERT_FATAL(strlen(sock_path) < sizeof(sun.sun_path));
    memcpy(sun.sun_path, sock_path, strlen(sock_path) + 1);
    CU_ASSERT_FATAL(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) == 0 && listen(lfd, 1) == 0);
    consumer_start(&unx, lfd, true);

    write_file(dir, "rules", RULE_ESTABLISHED);
    CU_ASSERT_EQUAL(e2e_run("'%s' -r '%s' -S '%s/rules' --rule-cache none -l '%s' "
                            "--syslog udp:127.0.0.1:%u --unix-socket '%s' 2>'%s/stderr'",
                            e2e_mamori(), e2e_data_path("pcaps/zeek/http_bro.org.pcap"), dir, dir,
                            ntohs(a.sin_port), sock_path, dir), 0);
    json_t *eve = eve_lines(dir);
    json_t *dgrams = consumer_lines(&udp), *unix_lines = consumer_lines(&unx);
    unsigned bad = 0;
    json_t *msgs = syslog_messages(dgrams, &bad);

    printf("\n  %zu EVE lines (%zu alerts); syslog %zu messages (%zu alerts), unix %zu lines\n",
           json_array_size(eve), count_type(eve, "alert"), json_array_size(msgs),
           count_type(msgs, "alert"), json_array_size(unix_lines));
    CU_ASSERT(count_type(eve, "alert") > 0);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(json_equal(msgs, eve));
    CU_ASSERT(json_equal(unix_lines, eve));
    json_decref(eve);
    json_decref(dgrams);
    json_decref(msgs);
    json_decref(unix_lines);
    e2e_rmdir(dir);
}

/* ---- a sink down while the sensor runs ---- */

/* The stats events of dir/eve.json. */
static json_t *stats_events(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/eve.json", dir);
    return e2e_read_events(path, "stats");
}

/* Counter section.key of a stats event. */
static long long stat_of(json_t *ev, const char *section, const char *key)
{
    return json_integer_value(json_object_get(json_object_get(json_object_get(ev, "stats"),
                                                              section), key));
}

/* After the sink went down (first stats events before it), stats events
 * keep coming with more packets each, and show the sink's errors and what
 * it holds or dropped. */
static void expect_running_while_down(const char *dir, size_t first, const char *sink)
{
    json_t *stats = stats_events(dir);
    size_t n = json_array_size(stats);
    json_t *a = json_array_get(stats, first), *b = json_array_get(stats, n - 1);
    char errors[64], dropped[64], buffered[64];

    snprintf(errors, sizeof(errors), "%s.errors", sink);
    snprintf(dropped, sizeof(dropped), "%s.dropped", sink);
    snprintf(buffered, sizeof(buffered), "%s.buffered", sink);
    printf("\n  %s down: %zu stats events, packets %lld -> %lld, %s errors %lld, dropped %lld, "
           "buffered %lld\n", sink, n - first, stat_of(a, "decoder", "pkts"),
           stat_of(b, "decoder", "pkts"), sink, stat_of(b, "export", errors),
           stat_of(b, "export", dropped), stat_of(b, "export", buffered));
    CU_ASSERT(n >= first + 2);
    CU_ASSERT(stat_of(b, "decoder", "pkts") > stat_of(a, "decoder", "pkts"));
    CU_ASSERT(stat_of(b, "export", errors) > 0);
    CU_ASSERT(stat_of(b, "export", dropped) + stat_of(b, "export", buffered) > 0);
    json_decref(stats);
}

/* At exit every line the file took was delivered to the sink, dropped or
 * left buffered (and then dropped, which stderr says). */
static void expect_lines_accounted(const char *dir, const char *sink)
{
    unsigned long long w = 0, d = 0, b = 0, fw = 0, fd = 0, fb = 0;
    char path[4200], what[64];

    CU_ASSERT_FATAL(export_summary(dir, sink, &w, &d, &b));
    CU_ASSERT_FATAL(export_summary(dir, "file", &fw, &fd, &fb));
    printf("  %s: %llu written, %llu dropped, %llu buffered at exit; the file %llu\n",
           sink, w, d, b, fw);
    CU_ASSERT_EQUAL(w + d + b, fw);
    CU_ASSERT(d + b > 0);
    if (b > 0) {
        snprintf(path, sizeof(path), "%s/stderr", dir);
        snprintf(what, sizeof(what), "mamori: %s sink: %llu events undelivered at exit", sink, b);
        CU_ASSERT_EQUAL(quiet("grep -q '%s' '%s'", what, path), 0);
    }
}

/* The sink has just gone down: 3.5 s of the sensor running on without it,
 * then SIGTERM, exit 0, and every line accounted for. */
static void watch_sink_down(const char *dir, pid_t pid, const char *sink)
{
    json_t *stats = stats_events(dir);
    size_t first = json_array_size(stats);

    json_decref(stats);
    e2e_sleep_ms(3500);
    expect_running_while_down(dir, first, sink);
    CU_ASSERT_EQUAL(e2e_stop_mamori(pid, true), 0);
    expect_lines_accounted(dir, sink);
}

/* Redis stops for good while alerts keep coming: the sensor goes on, the
 * list sink's errors and drops show in the stats events, exit 0. */
static void test_redis_down_keeps_running(void)
{
    char *dir = e2e_mkdtemp();
    unsigned port = e2e_free_port(false);
    pid_t pid = spawn_with_redis(dir, port, 50);

    redis_shutdown(port);
    watch_sink_down(dir, pid, "redis");
    e2e_rmdir(dir);
}

/* syslog to a local socket whose listener goes away (closed, path
 * removed): the same. */
static void test_syslog_listener_gone(void)
{
    char *dir = e2e_mkdtemp(), extra[4400], path[4200];
    struct consumer c;

    snprintf(path, sizeof(path), "%s/log.sock", dir);
    /* close-on-exec: mamori must not hold the listener open itself */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    CU_ASSERT_FATAL(strlen(path) < sizeof(sun.sun_path));
    memcpy(sun.sun_path, path, strlen(path) + 1);
    CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
    consumer_start(&c, fd, false);
    write_file(dir, "rules", RULE_UDP_LIMITED);
    snprintf(extra, sizeof(extra), "--stats-interval 1 --syslog 'unix:%s'", path);
    pid_t pid = e2e_spawn_mamori(dir, dpdk_args(dir, extra));
    e2e_sleep_ms(2500);
    json_t *received = consumer_lines(&c);        /* stops reading, closes */
    unlink(path);
    watch_sink_down(dir, pid, "syslog");
    CU_ASSERT(json_array_size(received) > 0);
    json_decref(received);
    e2e_rmdir(dir);
}

/* syslog over UDP to a port nobody listens on (ICMP port unreachable):
 * the run completes and every line is accounted for. */
static void test_syslog_udp_closed_port(void)
{
    char *dir = e2e_mkdtemp();

    write_file(dir, "rules", RULE_ESTABLISHED);
    CU_ASSERT_EQUAL(e2e_run("timeout 60 '%s' -r '%s' -S '%s/rules' --rule-cache none -l '%s' "
                            "--syslog udp:127.0.0.1:%u 2>'%s/stderr'",
                            e2e_mamori(), e2e_data_path("pcaps/zeek/http_bro.org.pcap"), dir, dir,
                            e2e_free_port(true), dir), 0);
    expect_lines_accounted(dir, "syslog");
    e2e_rmdir(dir);
}

/* The value of the first sample of family name in a /metrics page, -1 if
 * absent. */
static double metric_value(const char *path, const char *name)
{
    json_t *lines = read_lines(path);
    size_t i, n = strlen(name);
    json_t *l;
    double v = -1;

    json_array_foreach(lines, i, l) {
        const char *s = json_string_value(l);
        if (strncmp(s, name, n) == 0 && (s[n] == ' ' || s[n] == '{')) {
            v = atof(strrchr(s, ' ') + 1);
            break;
        }
    }
    json_decref(lines);
    return v;
}

/* GET url from 127.0.0.1:port into path (the body); the HTTP status, or
 * -1 when nothing answered. */
static int http_get(unsigned port, const char *url, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), status = -1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    char req[256];
    struct consumer c;

    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", url);
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        close(fd);
        return -1;
    }
    memset(&c, 0, sizeof(c));
    consumer_append(&c, "", 0, false);
    for (;;) {
        char buf[65536];
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        consumer_append(&c, buf, (size_t)n, false);
    }
    close(fd);
    char *body = strstr(c.data, "\r\n\r\n");
    if (sscanf(c.data, "HTTP/1.%*d %d", &status) == 1 && body != NULL) {
        FILE *f = fopen(path, "w");
        fputs(body + 4, f);
        fclose(f);
    }
    free(c.data);
    return status;
}

/* /metrics while a looping capture runs: promtool accepts it, and the
 * packet counter moves between two scrapes a second apart. */
static void test_metrics_promtool_and_moving(void)
{
    char *dir = e2e_mkdtemp(), extra[256], m1[4200], m2[4200], other[4200];
    unsigned port = e2e_free_port(false);

    write_file(dir, "rules", RULE_UDP_LIMITED);
    snprintf(extra, sizeof(extra), "--metrics 127.0.0.1:%u", port);
    pid_t pid = e2e_spawn_mamori(dir, dpdk_args(dir, extra));
    snprintf(m1, sizeof(m1), "%s/m1.txt", dir);
    snprintf(m2, sizeof(m2), "%s/m2.txt", dir);
    e2e_sleep_ms(4000);
    snprintf(other, sizeof(other), "%s/other.txt", dir);
    int rc1 = http_get(port, "/metrics", m1);
    e2e_sleep_ms(1100);
    int rc2 = http_get(port, "/metrics", m2);
    int notfound = http_get(port, "/", other);
    CU_ASSERT_EQUAL(e2e_stop_mamori(pid, true), 0);

    double p1 = metric_value(m1, "mamori_capture_ipackets_total");
    double p2 = metric_value(m2, "mamori_capture_ipackets_total");
    printf("\n  mamori_capture_ipackets_total %.0f then %.0f a second later\n", p1, p2);
    CU_ASSERT_EQUAL(rc1, 200);
    CU_ASSERT_EQUAL(rc2, 200);
    CU_ASSERT_EQUAL(notfound, 404);
    CU_ASSERT_EQUAL(e2e_run("promtool check metrics < '%s'", m1), 0);
    CU_ASSERT(p1 > 0);
    CU_ASSERT(p2 > p1);
    CU_ASSERT(metric_value(m2, "mamori_export_written_total") > 0);   /* {sink="file"} */
    CU_ASSERT_EQUAL(e2e_run("grep -q '^# TYPE mamori_flow_active gauge' '%s'", m2), 0);
    CU_ASSERT_EQUAL(e2e_run("grep -q '^mamori_port_ipackets_total{port=\"net_pcap0\"}' '%s'", m2), 0);
    e2e_rmdir(dir);
}

static CU_TestInfo cases[] = {
    { "Redis list holds the EVE file's lines", test_redis_list_equals_eve },
    { "Redis stream (XADD MAXLEN)", test_redis_stream },
    { "Redis restart: delivered + dropped = produced", test_redis_restart },
    { "syslog (UDP) and Unix socket equal the file", test_syslog_and_unix_socket_equal_eve },
    { "/metrics passes promtool and moves", test_metrics_promtool_and_moving },
    { "Redis down for good: runs on, drops counted", test_redis_down_keeps_running },
    { "syslog listener gone: runs on, drops counted", test_syslog_listener_gone },
    { "syslog UDP to a closed port: lines accounted", test_syslog_udp_closed_port },
    CU_TEST_INFO_NULL,
};

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    return cunit_run("e2e_export", cases);
}
