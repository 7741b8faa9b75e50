/* test_export.c - the exporters without the sensor: the bounded queue and
 * its drop accounting, stream resumption, the file sink on a full device,
 * reconnection of a Unix socket sink, RFC 5424 framing, the Prometheus
 * rendering and endpoint, and the exporter options. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cunit_run.h"
#include "e2e.h"
#include "eve.h"
#include "export_int.h"
#include "export_options.h"
#include "metrics.h"
#include "options.h"
#include "stats.h"

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static struct export_line make_line(const char *text, const char *type, int severity)
{
    struct export_line l = { .text = text, .len = strlen(text), .type = type,
                             .severity = severity };
    return l;
}

static struct export_counters counters_of(struct export_sink *s)
{
    struct export_counters c = { 0 };
    s->ops->counters(s, &c);
    return c;
}

static char *temp_dir(void)
{
    char templ[] = "/tmp/mamori-test-export-XXXXXX";
    char *d = mkdtemp(templ);
    return d ? strdup(d) : NULL;
}

static void remove_dir(char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(dir);
}

/* The bounded queue: lines beyond the line or byte bound are refused and
 * counted; what fits stays in order. */
static void test_queue_drop_accounting(void)
{
    struct export_queue q;
    char line[16];

    CU_ASSERT_EQUAL_FATAL(export_queue_init(&q, 4, 1 << 20), 0);
    for (int i = 0; i < 10; i++) {
        snprintf(line, sizeof(line), "line %d", i);
        CU_ASSERT_EQUAL(export_queue_push(&q, line, strlen(line), 6), i < 4 ? 0 : -1);
    }
    CU_ASSERT_EQUAL(q.count, 4);
    CU_ASSERT_EQUAL(q.dropped, 6);
    /* Not a C string: len bytes and the newline. */
    CU_ASSERT_EQUAL(export_queue_at(&q, 0)->len, 6);
    CU_ASSERT_EQUAL(memcmp(export_queue_at(&q, 0)->text, "line 0\n", 7), 0);
    export_queue_pop(&q);
    CU_ASSERT_EQUAL(export_queue_push(&q, "again", 5, 6), 0);
    CU_ASSERT_EQUAL(memcmp(export_queue_at(&q, 3)->text, "again\n", 6), 0);
    export_queue_drop_all(&q);
    CU_ASSERT_EQUAL(q.count, 0);
    CU_ASSERT_EQUAL(q.dropped, 10);
    CU_ASSERT_EQUAL(q.bytes, 0);
    export_queue_free(&q);

    /* The byte bound: 11 bytes with the newline fit in 20, 22 do not. */
    CU_ASSERT_EQUAL_FATAL(export_queue_init(&q, 100, 20), 0);
    CU_ASSERT_EQUAL(export_queue_push(&q, "0123456789", 10, 6), 0);
    CU_ASSERT_EQUAL(export_queue_push(&q, "0123456789", 10, 6), -1);
    CU_ASSERT_EQUAL(q.dropped, 1);
    export_queue_free(&q);
}

/* A stream that takes part of a line resumes it where it stopped: the
 * reader gets every line whole and in order. */
static void test_queue_partial_writes_resume(void)
{
    struct export_queue q;
    int p[2];
    char line[1000], *got = calloc(1, 64 << 10), *want = calloc(1, 64 << 10);
    size_t got_len = 0, want_len = 0;

    CU_ASSERT_FATAL(pipe2(p, O_NONBLOCK) == 0);
    fcntl(p[1], F_SETPIPE_SZ, 4096);
    CU_ASSERT_EQUAL_FATAL(export_queue_init(&q, 100, 1 << 20), 0);
    for (int i = 0; i < 30; i++) {
        memset(line, 'a' + i % 26, sizeof(line));
        export_queue_push(&q, line, sizeof(line), 6);
        memcpy(want + want_len, line, sizeof(line));
        want[want_len + sizeof(line)] = '\n';
        want_len += sizeof(line) + 1;
    }
    unsigned rounds = 0, partial = 0;
    while (q.count > 0 && rounds++ < 1000) {
        if (export_queue_writev(&q, p[1], false) < 0)
            CU_ASSERT_EQUAL(errno, EAGAIN);
        partial += q.head_off != 0;
        ssize_t n;
        while ((n = read(p[0], got + got_len, 8192)) > 0)
            got_len += (size_t)n;
    }
    CU_ASSERT_EQUAL(q.count, 0);
    CU_ASSERT(partial > 0);              /* the pipe did cut lines */
    CU_ASSERT_EQUAL(got_len, want_len);
    CU_ASSERT(memcmp(got, want, want_len) == 0);
    export_queue_free(&q);
    close(p[0]);
    close(p[1]);
    free(got);
    free(want);
}

/* A file on a full device: errors counted, lines kept up to the bound and
 * the rest dropped, nothing fatal. */
static void test_file_sink_full_device(void)
{
    char err[256];
    struct export_sink *s = export_file_open("/dev/full", 8, err, sizeof(err));

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    for (int i = 0; i < 20; i++) {
        struct export_line l = make_line("{\"event_type\":\"flow\"}", "flow", 6);
        s->ops->write(s, &l);
    }
    s->ops->flush(s);
    s->ops->flush(s);                    /* within the backoff: no second attempt */
    struct export_counters c = counters_of(s);
    CU_ASSERT_EQUAL(c.written, 0);
    CU_ASSERT_EQUAL(c.errors, 1);
    CU_ASSERT_EQUAL(c.buffered, 8);
    CU_ASSERT_EQUAL(c.dropped, 12);
    s->ops->destroy(s);

    /* The same through the EVE writer. */
    struct eve_writer *w = eve_open("/dev/full", err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    json_t *ev = json_pack("{s:s}", "event_type", "stats");
    CU_ASSERT_EQUAL(eve_write(w, ev), 0);
    eve_flush(w);
    CU_ASSERT(eve_write_errors(w) > 0);
    CU_ASSERT_EQUAL(eve_events_written(w), 1);
    json_decref(ev);
    eve_close(w);
}

/* A tiny tmpfs that fills up, then has room again: the lines held meanwhile
 * are written after, whole and in order (root only; skipped otherwise). */
static void test_file_sink_tmpfs_full_then_room(void)
{
    char *dir = temp_dir(), cmd[512], path[512], filler[512], err[256], buf[4096];

    snprintf(cmd, sizeof(cmd), "mount -t tmpfs -o size=16k mamori-test '%s' 2>/dev/null", dir);
    if (geteuid() != 0 || system(cmd) != 0) {
        printf("(skipped: no tmpfs mount) ");
        remove_dir(dir);
        return;
    }
    snprintf(path, sizeof(path), "%s/eve.json", dir);
    snprintf(filler, sizeof(filler), "%s/filler", dir);
    struct export_sink *s = export_file_open(path, 1000, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    int fd = open(filler, O_WRONLY | O_CREAT, 0600);
    memset(buf, 'x', sizeof(buf));
    while (write(fd, buf, sizeof(buf)) > 0)
        ;
    close(fd);

    char line[200];
    for (int i = 0; i < 100; i++) {
        snprintf(line, sizeof(line), "{\"n\":%d,\"pad\":\"%080d\"}", i, i);
        struct export_line l = make_line(line, "flow", 6);
        CU_ASSERT_EQUAL(s->ops->write(s, &l), 0);
    }
    s->ops->flush(s);
    struct export_counters c = counters_of(s);
    CU_ASSERT(c.errors >= 1);
    CU_ASSERT(c.buffered > 0);
    unlink(filler);
    for (int i = 0; i < 100 && counters_of(s).buffered > 0; i++) {
        sleep_ms(20);
        s->ops->flush(s);
    }
    c = counters_of(s);
    CU_ASSERT_EQUAL(c.written, 100);
    CU_ASSERT_EQUAL(c.dropped, 0);
    s->ops->destroy(s);

    FILE *f = fopen(path, "r");
    int n = 0, ok = 1, v;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        ok &= sscanf(line, "{\"n\":%d,", &v) == 1 && v == n && line[strlen(line) - 1] == '\n';
        n++;
    }
    if (f != NULL)
        fclose(f);
    CU_ASSERT_EQUAL(n, 100);
    CU_ASSERT(ok);
    snprintf(cmd, sizeof(cmd), "umount '%s'", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
    remove_dir(dir);
}

/* logrotate: the file moved away, reopen starts a new one at the path. */
static void test_file_sink_reopen(void)
{
    char *dir = temp_dir(), path[512], rotated[512], err[256];

    snprintf(path, sizeof(path), "%s/eve.json", dir);
    snprintf(rotated, sizeof(rotated), "%s/eve.json.1", dir);
    struct eve_writer *w = eve_open(path, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    json_t *ev = json_pack("{s:s}", "event_type", "stats");
    eve_write(w, ev);
    CU_ASSERT_EQUAL(rename(path, rotated), 0);
    eve_write(w, ev);                    /* queued: belongs to the old file */
    CU_ASSERT_EQUAL(eve_reopen(w, err, sizeof(err)), 0);
    eve_write(w, ev);
    eve_close(w);
    json_decref(ev);

    struct stat a, b;
    CU_ASSERT_EQUAL(stat(rotated, &a), 0);
    CU_ASSERT_EQUAL(stat(path, &b), 0);
    CU_ASSERT_EQUAL(a.st_size, 2 * (off_t)strlen("{\"event_type\":\"stats\"}\n"));
    CU_ASSERT_EQUAL(b.st_size, (off_t)strlen("{\"event_type\":\"stats\"}\n"));
    remove_dir(dir);
}

static int listen_unix(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };

    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 4) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Read what arrives on fd for up to ms into buf. */
static size_t read_for(int fd, char *buf, size_t size, unsigned ms)
{
    size_t len = 0;
    struct pollfd p = { .fd = fd, .events = POLLIN };

    while (len + 1 < size && poll(&p, 1, (int)ms) > 0) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return len;
}

/* Nobody listening: lines wait up to the bound, the rest are dropped. */
static void test_unix_sink_down_drops_over_bound(void)
{
    char err[256];
    struct export_unix_config cfg = { .path = "/nonexistent/mamori.sock", .buffer_lines = 4 };
    struct export_sink *s = export_unix_open(&cfg, err, sizeof(err));

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s->name, "unix");
    for (int i = 0; i < 10; i++) {
        struct export_line l = make_line("{}", "alert", 2);
        s->ops->write(s, &l);
    }
    s->ops->flush(s);
    struct export_counters c = counters_of(s);
    CU_ASSERT_EQUAL(c.written, 0);
    CU_ASSERT_EQUAL(c.buffered, 4);
    CU_ASSERT_EQUAL(c.dropped, 6);
    CU_ASSERT(c.errors >= 1);
    s->ops->destroy(s);
}

/* The consumer goes away and comes back: the sink reconnects after its
 * backoff and delivers what it held. */
static void test_unix_sink_reconnects(void)
{
    char *dir = temp_dir(), path[512], err[256], buf[4096];

    snprintf(path, sizeof(path), "%s/eve.sock", dir);
    int lfd = listen_unix(path);
    CU_ASSERT_FATAL(lfd >= 0);
    struct export_unix_config cfg = { .path = path };
    struct export_sink *s = export_unix_open(&cfg, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const char *first[] = { "{\"n\":1}", "{\"n\":2}", "{\"n\":3}" };
    for (int i = 0; i < 3; i++) {
        struct export_line l = make_line(first[i], "flow", 6);
        s->ops->write(s, &l);
    }
    s->ops->flush(s);
    int cfd = accept(lfd, NULL, NULL);
    read_for(cfd, buf, sizeof(buf), 200);
    CU_ASSERT_STRING_EQUAL(buf, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n");

    /* The consumer restarts. */
    close(cfd);
    close(lfd);
    struct export_line l = make_line("{\"n\":4}", "flow", 6);
    s->ops->write(s, &l);
    s->ops->flush(s);                    /* finds the peer gone */
    l = make_line("{\"n\":5}", "flow", 6);
    s->ops->write(s, &l);
    s->ops->flush(s);
    CU_ASSERT(counters_of(s).errors >= 1);
    CU_ASSERT(counters_of(s).buffered >= 1);
    lfd = listen_unix(path);
    for (int i = 0; i < 100 && counters_of(s).buffered > 0; i++) {
        sleep_ms(20);
        s->ops->flush(s);
    }
    cfd = accept(lfd, NULL, NULL);
    read_for(cfd, buf, sizeof(buf), 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "{\"n\":5}\n"));
    struct export_counters c = counters_of(s);
    CU_ASSERT_EQUAL(c.buffered, 0);
    CU_ASSERT_EQUAL(c.dropped, 0);
    CU_ASSERT(c.written >= 4);
    s->ops->destroy(s);
    close(cfd);
    close(lfd);
    remove_dir(dir);
}

static void test_alert_severity_mapping(void)
{
    CU_ASSERT_EQUAL(export_alert_severity(1), 2);
    CU_ASSERT_EQUAL(export_alert_severity(2), 3);
    CU_ASSERT_EQUAL(export_alert_severity(3), 4);
    CU_ASSERT_EQUAL(export_alert_severity(4), 5);
    CU_ASSERT_EQUAL(export_alert_severity(0), 5);
}

/* RFC 5424 framing: PRI, version 1, UTC timestamp with microseconds,
 * printable header fields, "-" for nothing, then the JSON. */
static void test_syslog_framing(void)
{
    char buf[512];
    const char *msg = "{\"event_type\":\"alert\"}";

    size_t n = export_syslog_format(buf, sizeof(buf), 21, 2, 1713694272123456789ull, "sensor1",
                                    "mamori", 4242, "alert", msg, strlen(msg));
    CU_ASSERT_STRING_EQUAL(buf, "<170>1 2024-04-21T10:11:12.123456Z sensor1 mamori 4242 alert - "
                                "{\"event_type\":\"alert\"}");
    CU_ASSERT_EQUAL(n, strlen(buf));
    export_syslog_format(buf, sizeof(buf), 1, 6, 0, "a b", "", 1, "flow", "{}", 2);
    CU_ASSERT_STRING_EQUAL(buf, "<14>1 1970-01-01T00:00:00.000000Z a_b - 1 flow - {}");
    /* Truncation reports the size needed, as snprintf. */
    CU_ASSERT(export_syslog_format(buf, 10, 1, 6, 0, "h", "a", 1, "m", "{}", 2) > 10);
    CU_ASSERT_EQUAL(export_syslog_facility("local5"), 21);
    CU_ASSERT_EQUAL(export_syslog_severity("warning"), 4);
    CU_ASSERT_EQUAL(export_syslog_facility("nope"), -1);
}

/* The syslog sink over UDP: alerts at their own severity, others at the
 * configured one, MSGID the event type. */
static void test_syslog_sink_udp(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof(a);
    char err[256], buf[1024];

    CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    getsockname(fd, (struct sockaddr *)&a, &alen);
    struct export_syslog_config cfg = { .server = "127.0.0.1", .port = ntohs(a.sin_port),
                                        .facility = 21, .severity = 6 };
    struct export_sink *s = export_syslog_open(&cfg, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    struct export_line alert = make_line("{\"event_type\":\"alert\"}", "alert", 2);
    struct export_line flow = make_line("{\"event_type\":\"flow\"}", "flow", 6);
    s->ops->write(s, &alert);
    s->ops->write(s, &flow);
    s->ops->flush(s);
    CU_ASSERT_EQUAL(counters_of(s).written, 2);

    ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    CU_ASSERT_EQUAL(strncmp(buf, "<170>1 ", 7), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, " mamori "));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, " alert - {\"event_type\":\"alert\"}"));
    n = recv(fd, buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    CU_ASSERT_EQUAL(strncmp(buf, "<174>1 ", 7), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, " flow - {\"event_type\":\"flow\"}"));
    s->ops->destroy(s);
    close(fd);
}

/* Redis down (nobody on the port): the bounded buffer holds, the rest is
 * dropped, the failed connect counted. */
static void test_redis_sink_down(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof(a);
    char err[256];

    bind(fd, (struct sockaddr *)&a, sizeof(a));   /* bound, not listening: refused */
    getsockname(fd, (struct sockaddr *)&a, &alen);
    struct export_redis_config cfg = { .host = "127.0.0.1", .port = ntohs(a.sin_port),
                                       .buffer_lines = 5 };
    struct export_sink *s = export_redis_open(&cfg, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    for (int i = 0; i < 10; i++) {
        struct export_line l = make_line("{}", "alert", 2);
        s->ops->write(s, &l);
    }
    for (int i = 0; i < 5; i++) {
        s->ops->flush(s);
        sleep_ms(10);
    }
    struct export_counters c = counters_of(s);
    CU_ASSERT_EQUAL(c.written, 0);
    CU_ASSERT_EQUAL(c.buffered, 5);
    CU_ASSERT_EQUAL(c.dropped, 5);
    CU_ASSERT(c.errors >= 1);
    s->ops->destroy(s);
    close(fd);

    struct export_redis_config bad = { .host = "no-such-host.invalid", .port = 6379 };
    CU_ASSERT_PTR_NULL(export_redis_open(&bad, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no-such-host.invalid"));
}

static void add_stat(void *ctx, const char *name, uint64_t value)
{
    stats_add(ctx, name, value);
}

/* Every sink's counters under export.<sink>. */
static void test_fanout_counters(void)
{
    struct export *ex = export_create();
    char err[256];
    struct export_unix_config cfg = { .path = "/nonexistent/x.sock", .buffer_lines = 2 };
    json_t *stats = stats_new();

    CU_ASSERT_EQUAL(export_add(ex, export_unix_open(&cfg, err, sizeof(err))), 0);
    struct export_line l = make_line("{}", "flow", 6);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(export_write(ex, &l), i < 2 ? 0 : 1);
    export_counters(ex, add_stat, stats);
    CU_ASSERT_EQUAL(stats_get(stats, "export.unix.buffered"), 2);
    CU_ASSERT_EQUAL(stats_get(stats, "export.unix.dropped"), 1);
    CU_ASSERT_EQUAL(stats_get(stats, "export.unix.written"), 0);
    CU_ASSERT_FALSE(export_drain(ex, 50));
    json_decref(stats);
    export_destroy(ex);
}

static json_t *sample_stats(void)
{
    json_t *s = stats_new();
    stats_add(s, "uptime", 12);
    stats_add(s, "decoder.pkts", 7);
    stats_add(s, "decoder.ipv4.truncated", 1);
    stats_add(s, "flow.active", 3);
    stats_add(s, "detect.compile_ms", 250);
    stats_add(s, "port.net_pcap0.ipackets", 5);
    stats_add(s, "port.0000:01:00.0.ipackets", 6);
    stats_add(s, "export.redis.written", 9);
    stats_add(s, "export.redis.buffered", 2);
    stats_add(s, "export.file.written", 11);
    stats_add(s, "worker.burst_p99_us", 40);
    return s;
}

/* The text format: HELP and TYPE once per family, families contiguous,
 * counters with _total, gauges by the table, labels for ports and sinks,
 * milliseconds as seconds. */
static void test_prometheus_render(void)
{
    json_t *stats = sample_stats();
    size_t len = 0;
    char *text = metrics_render(stats, &len);

    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_EQUAL(len, strlen(text));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "# HELP mamori_decoder_pkts_total decoder.pkts in mamori's EVE stats\n"
                                        "# TYPE mamori_decoder_pkts_total counter\n"
                                        "mamori_decoder_pkts_total 7\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "mamori_decoder_ipv4_truncated_total 1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "# TYPE mamori_flow_active gauge\nmamori_flow_active 3\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "# TYPE mamori_sensor_uptime_seconds gauge\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "mamori_detect_compile_seconds 0.25\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "mamori_port_ipackets_total{port=\"net_pcap0\"} 5\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "mamori_port_ipackets_total{port=\"0000:01:00.0\"} 6\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "# TYPE mamori_export_written_total counter\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "mamori_export_written_total{sink=\"redis\"} 9\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "mamori_export_written_total{sink=\"file\"} 11\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "# TYPE mamori_export_buffered gauge\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "# TYPE mamori_worker_burst_p99_seconds gauge\n"
                                        "mamori_worker_burst_p99_seconds 4e-05\n"));
    /* One HELP per family although two ports share it. */
    char *first = strstr(text, "# HELP mamori_port_ipackets_total");
    CU_ASSERT_PTR_NOT_NULL_FATAL(first);
    CU_ASSERT_PTR_NULL(strstr(first + 1, "# HELP mamori_port_ipackets_total"));

    /* promtool, when installed, has the last word. */
    if (system("command -v promtool >/dev/null 2>&1") == 0) {
        FILE *p = popen("promtool check metrics", "w");
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        fputs(text, p);
        int rc = pclose(p);
        CU_ASSERT_EQUAL(rc, 0);
    }
    free(text);
    json_decref(stats);
}

/* GET url from 127.0.0.1:port; the whole response in buf. */
static void http_get(unsigned port, const char *url, char *buf, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    char req[256];

    buf[0] = '\0';
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return;
    }
    snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", url);
    if (write(fd, req, strlen(req)) > 0)
        read_for(fd, buf, size, 2000);
    close(fd);
}

/* The endpoint: 503 before the first publication, then the page; 404
 * elsewhere; a bad address is refused with its cause. */
static void test_metrics_endpoint(void)
{
    unsigned port = e2e_free_port(false);
    char spec[64], err[256], *buf = malloc(1 << 16);

    snprintf(spec, sizeof(spec), "127.0.0.1:%u", port);
    struct metrics *m = metrics_start(spec, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    http_get(port, "/metrics", buf, 1 << 16);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, " 503 "));
    json_t *stats = sample_stats();
    metrics_publish(m, stats);
    json_decref(stats);
    http_get(port, "/metrics", buf, 1 << 16);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, " 200 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "text/plain; version=0.0.4"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "mamori_decoder_pkts_total 7\n"));
    http_get(port, "/", buf, 1 << 16);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, " 404 "));
    CU_ASSERT(metrics_scrapes(m) >= 2);

    /* The port is taken now. */
    CU_ASSERT_PTR_NULL(metrics_start(spec, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "Address already in use"));
    metrics_stop(m);
    CU_ASSERT_PTR_NULL(metrics_start("[::1", err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "--metrics"));
    free(buf);
}

static int parse(struct mamori_options *o, char **argv, char *err, size_t errlen)
{
    int argc = 0;
    while (argv[argc] != NULL)
        argc++;
    return options_parse(o, argc, argv, err, errlen);
}

/* The options fill struct mamori_outputs; bad values name the option. */
static void test_exporter_options(void)
{
    struct mamori_options o;
    char err[512];
    char *good[] = { "mamori", "-r", "x.pcap",
                     "--redis", "localhost:6380,stream,key=a,maxlen=5,buffer=7",
                     "--syslog", "udp:[::1]:5514,facility=local3,severity=notice",
                     "--unix-socket", "/run/x.sock,dgram", "--metrics", "9100",
                     "--no-eve-file", NULL };

    CU_ASSERT_EQUAL_FATAL(parse(&o, good, err, sizeof(err)), 0);
    CU_ASSERT(o.outputs.redis.enabled);
    CU_ASSERT_STRING_EQUAL(o.outputs.redis.server, "localhost");
    CU_ASSERT_EQUAL(o.outputs.redis.port, 6380);
    CU_ASSERT_EQUAL(o.outputs.redis.mode, REDIS_STREAM);
    CU_ASSERT_STRING_EQUAL(o.outputs.redis.key, "a");
    CU_ASSERT_EQUAL(o.outputs.redis.stream_maxlen, 5);
    CU_ASSERT_EQUAL(o.outputs.redis.buffer, 7);
    CU_ASSERT(o.outputs.syslog.enabled);
    CU_ASSERT_STRING_EQUAL(o.outputs.syslog.server, "::1");
    CU_ASSERT_EQUAL(o.outputs.syslog.port, 5514);
    CU_ASSERT_EQUAL(o.outputs.syslog.facility, 19);
    CU_ASSERT_EQUAL(o.outputs.syslog.severity, 5);
    CU_ASSERT(o.outputs.unix_socket.enabled);
    CU_ASSERT_STRING_EQUAL(o.outputs.unix_socket.path, "/run/x.sock");
    CU_ASSERT_EQUAL(o.outputs.unix_socket.type, SOCKET_DGRAM);
    CU_ASSERT(o.outputs.prometheus.enabled);
    CU_ASSERT_STRING_EQUAL(o.outputs.prometheus.address, "127.0.0.1");   /* loopback */
    CU_ASSERT_EQUAL(o.outputs.prometheus.port, 9100);
    CU_ASSERT_FALSE(o.outputs.eve.enabled);
    char addr[64];
    CU_ASSERT(export_metrics_address(&o.outputs, addr, sizeof(addr)));
    CU_ASSERT_STRING_EQUAL(addr, "127.0.0.1:9100");
    options_free(&o);

    /* Nothing is exported or listened on unless asked. */
    char *plain[] = { "mamori", "-r", "x.pcap", NULL };
    CU_ASSERT_EQUAL_FATAL(parse(&o, plain, err, sizeof(err)), 0);
    CU_ASSERT(o.outputs.eve.enabled);
    CU_ASSERT_FALSE(o.outputs.redis.enabled || o.outputs.syslog.enabled ||
                    o.outputs.unix_socket.enabled || o.outputs.prometheus.enabled);
    CU_ASSERT_FALSE(export_metrics_address(&o.outputs, addr, sizeof(addr)));
    options_free(&o);

    struct { const char *opt, *value, *says; } bad[] = {
        { "--redis", "localhost", "--redis: 'localhost' is not HOST:PORT" },
        { "--redis", "h:99999", "--redis: port '99999'" },
        { "--redis", "h:1,queue", "--redis: 'queue' is unknown" },
        { "--syslog", "facility=bogus", "--syslog: facility 'bogus' is unknown" },
        { "--syslog", "tcp:h:1", "--syslog: 'tcp:h:1' is unknown" },
        { "--unix-socket", "/x,seqpacket", "--unix-socket: 'seqpacket'" },
        { "--metrics", "::1:9100", "brackets" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *argv[] = { "mamori", "-r", "x.pcap", (char *)bad[i].opt, (char *)bad[i].value, NULL };
        err[0] = '\0';
        CU_ASSERT_EQUAL(parse(&o, argv, err, sizeof(err)), -1);
        if (strstr(err, bad[i].says) == NULL)
            fprintf(stderr, "\n  %s %s: got '%s'\n", bad[i].opt, bad[i].value, err);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].says));
        options_free(&o);
    }
}

static CU_TestInfo cases[] = {
    { "queue: drops over the bound are counted", test_queue_drop_accounting },
    { "queue: partial stream writes resume", test_queue_partial_writes_resume },
    { "file sink on a full device", test_file_sink_full_device },
    { "file sink: tmpfs full, then room", test_file_sink_tmpfs_full_then_room },
    { "file sink reopen (logrotate)", test_file_sink_reopen },
    { "unix sink down: bounded, drops counted", test_unix_sink_down_drops_over_bound },
    { "unix sink reconnects", test_unix_sink_reconnects },
    { "alert severity mapping", test_alert_severity_mapping },
    { "syslog RFC 5424 framing", test_syslog_framing },
    { "syslog sink over UDP", test_syslog_sink_udp },
    { "redis sink with the server down", test_redis_sink_down },
    { "fan-out counters", test_fanout_counters },
    { "Prometheus text rendering", test_prometheus_render },
    { "metrics endpoint", test_metrics_endpoint },
    { "exporter options", test_exporter_options },
    CU_TEST_INFO_NULL,
};

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    return cunit_run("export", cases);
}
