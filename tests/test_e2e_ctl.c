/* test_e2e_ctl.c - mamori's control socket end to end: a sensor that keeps
 * running (DPDK net_pcap looping over a capture, infinite_rx=1) is driven
 * with mamorictl and with raw socket clients, then shut down through the
 * socket. The cases run in order on one sensor: the first starts it, the
 * last stops it. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
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

static char *dir;
static char sock[4200];

/* mamorictl ARGS, stdout in DIR/out and stderr in DIR/err; its exit status. */
static int ctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int ctl(const char *fmt, ...)
{
    char args[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    return e2e_run("timeout 30 '%s' -s '%s' %s >'%s/out' 2>'%s/err'", e2e_mamorictl(), sock, args,
                   dir, dir);
}

/* Whether DIR/name contains text. */
static bool file_has(const char *name, const char *text)
{
    char path[4300];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    char line[8192];
    bool found = false;

    while (f != NULL && !found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, text) != NULL;
    if (f != NULL)
        fclose(f);
    if (!found)
        fprintf(stderr, "  '%s' not in %s\n", text, name);
    return found;
}

/* The message of `mamorictl --json ARGS` (an OK reply), or NULL. */
static json_t *ctl_json(const char *args)
{
    char path[4300];
    json_error_t jerr;

    if (ctl("--json %s", args) != 0)
        return NULL;
    snprintf(path, sizeof(path), "%s/out", dir);
    json_t *r = json_load_file(path, 0, &jerr);
    json_t *m = json_incref(json_object_get(r, "message"));
    const char *ret = json_string_value(json_object_get(r, "return"));
    if (ret == NULL || strcmp(ret, "OK") != 0) {
        json_decref(m);
        m = NULL;
    }
    json_decref(r);
    return m;
}

static long long stat_of(json_t *stats, const char *section, const char *key)
{
    return json_integer_value(json_object_get(json_object_get(stats, section), key));
}

/* sun_path is short (108 bytes): a longer path is cut, and connect fails. */
static void set_sun_path(struct sockaddr_un *sa, const char *path)
{
    size_t len = strlen(path);
    if (len >= sizeof(sa->sun_path))
        len = sizeof(sa->sun_path) - 1;
    memcpy(sa->sun_path, path, len);
    sa->sun_path[len] = '\0';
}

static int raw_client(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    set_sun_path(&sa, sock);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = { .tv_sec = 10 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Everything the server sends until it closes (or 10 s pass). */
static char *read_all(int fd)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ssize_t n;

    while (len + 1 < cap && (n = recv(fd, buf + len, cap - len - 1, 0)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    return buf;
}

/* ---- cases, in order ------------------------------------------------------ */

static void test_start(void)
{
    char rules[4300];
    struct stat st;

    dir = e2e_mkdtemp();
    snprintf(sock, sizeof(sock), "%s/run/mamori.sock", dir);
    snprintf(rules, sizeof(rules), "%s/ctl.rules", dir);
    FILE *f = fopen(rules, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    /* One rule that matches once per pass over the capture, one that is
     * skipped (a keyword mamori does not evaluate), one that fails (no sid). */
    fputs("alert tcp any any -> any 80 (msg:\"ctl test pygments\"; flow:to_server,established; "
          "content:\"pygments.css\"; sid:1000002; rev:1;)\n"
          "alert http any any -> any any (msg:\"ctl skipped\"; http.uri; content:\"/x\"; sid:1000003;)\n"
          "alert tcp any any -> any any (msg:\"ctl failed, no sid\"; content:\"x\";)\n", f);
    fclose(f);
    /* The sensor runs in the background; its exit status lands in DIR/status. */
    CU_ASSERT_EQUAL_FATAL(e2e_run(
        "( timeout -s KILL 300 '%s' --dpdk --stats-interval 1 --rule-cache none -S '%s' -l '%s' "
        "--control-socket '%s' -- -l 0-1 --no-pci %s --log-level=lib.eal:error "
        "--vdev='net_pcap0,rx_pcap=%s,infinite_rx=1' >'%s/stdout' 2>'%s/stderr'; "
        "echo $? >'%s/status' ) &",
        e2e_mamori(), rules, dir, sock, e2e_eal_memory_args(),
        e2e_data_path("pcaps/zeek/http_bro.org.pcap"), dir, dir, dir), 0);
    int rc = -1;
    for (int i = 0; i < 60 && rc != 0; i++) {
        e2e_sleep_ms(1000);
        rc = ctl("version");
    }
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(stat(sock, &st), 0);
    CU_ASSERT(S_ISSOCK(st.st_mode));
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0660);
    CU_ASSERT(file_has("stderr", "control socket"));
}

static void test_version_and_help(void)
{
    CU_ASSERT_EQUAL(ctl("version"), 0);
    CU_ASSERT(file_has("out", "version: "));
    CU_ASSERT(file_has("out", "capture: dpdk"));
    json_t *v = ctl_json("version");
    CU_ASSERT(json_is_string(json_object_get(v, "version")));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(v, "workers")), 1);
    json_decref(v);
    CU_ASSERT_EQUAL(ctl("help"), 0);
    CU_ASSERT(file_has("out", "alerts tail"));
    CU_ASSERT(file_has("out", "detector set"));
}

static void test_stats(void)
{
    json_t *a = ctl_json("stats");
    e2e_sleep_ms(1500);
    json_t *b = ctl_json("stats");

    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT(stat_of(a, "decoder", "pkts") > 0);
    CU_ASSERT(stat_of(b, "decoder", "pkts") > stat_of(a, "decoder", "pkts"));
    CU_ASSERT(stat_of(b, "ctl", "requests") > stat_of(a, "ctl", "requests"));
    CU_ASSERT(stat_of(b, "detect", "alerts_logged") > 0);
    json_decref(a);
    json_decref(b);
    /* Readable: an indented tree. */
    CU_ASSERT_EQUAL(ctl("stats"), 0);
    CU_ASSERT(file_has("out", "decoder:"));
    CU_ASSERT(file_has("out", "  pkts: "));
}

static void test_rules_stats(void)
{
    json_t *r = ctl_json("rules stats");

    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "loaded")), 1);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "skipped")), 1);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "failed")), 1);
    CU_ASSERT_EQUAL(json_object_size(json_object_get(r, "skipped_by")), 1);
    const char *e = json_string_value(json_array_get(json_object_get(r, "errors"), 0));
    CU_ASSERT(e != NULL && strstr(e, "ctl.rules:3") != NULL);
    json_t *engine = json_object_get(r, "engine");
    CU_ASSERT(json_integer_value(json_object_get(engine, "databases")) >= 1);
    CU_ASSERT(json_integer_value(json_object_get(engine, "database_bytes")) > 0);
    CU_ASSERT(json_is_number(json_object_get(engine, "compile_ms")));
    CU_ASSERT(json_is_integer(json_object_get(engine, "cache_hits")));
    json_decref(r);
    CU_ASSERT_EQUAL(ctl("rules stats"), 0);
    CU_ASSERT(file_has("out", "loaded: 1"));
}

static void test_detectors(void)
{
    json_t *d = ctl_json("detectors");

    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(d, "detectors")), 17);
    json_decref(d);
    CU_ASSERT_EQUAL(ctl("detectors"), 0);
    CU_ASSERT(file_has("out", "DETECTOR"));
    CU_ASSERT(file_has("out", "syn_flood"));
    CU_ASSERT(file_has("out", "port_scan"));
}

static void test_detector_set_then_get(void)
{
    CU_ASSERT_EQUAL(ctl("detector set syn_flood pps 4321"), 0);
    CU_ASSERT(file_has("out", "old: 1000"));
    json_t *v = ctl_json("detector get syn_flood pps");
    CU_ASSERT_EQUAL(json_number_value(json_object_get(v, "value")), 4321);
    json_decref(v);
    CU_ASSERT_EQUAL(ctl("detector set port_scan enabled off"), 0);
    v = ctl_json("detector get port_scan");
    CU_ASSERT(json_is_false(json_object_get(v, "enabled")));
    json_decref(v);
    CU_ASSERT_EQUAL(ctl("detector get syn_flood"), 0);
    CU_ASSERT(file_has("out", "pps=4321"));

    /* Wrong names and values are refused, naming why; nothing changes. */
    CU_ASSERT_EQUAL(ctl("detector set syn_flood pps lots"), 1);
    CU_ASSERT(file_has("err", "not a number"));
    CU_ASSERT_EQUAL(ctl("detector set no_such_detector pps 1"), 1);
    CU_ASSERT(file_has("err", "unknown detector 'no_such_detector'"));
    CU_ASSERT_EQUAL(ctl("detector set syn_flood colour 1"), 1);
    CU_ASSERT(file_has("err", "has no setting 'colour'"));
    CU_ASSERT_EQUAL(ctl("detector set port_scan window 99"), 1);
    CU_ASSERT(file_has("err", "out of range"));
    CU_ASSERT_EQUAL(ctl("detector set syn_flood pps -5"), 1);
    v = ctl_json("detector get syn_flood pps");
    CU_ASSERT_EQUAL(json_number_value(json_object_get(v, "value")), 4321);
    json_decref(v);
    CU_ASSERT_EQUAL(ctl("detector set syn_flood"), 2);          /* usage */
}

static void test_unknown_command(void)
{
    CU_ASSERT_EQUAL(ctl("frobnicate the sensor"), 1);
    CU_ASSERT(file_has("err", "unknown command 'frobnicate the sensor'"));
    CU_ASSERT_EQUAL(ctl("--json frobnicate"), 1);
    CU_ASSERT(file_has("out", "\"return\":\"NOK\""));
}

static void test_malformed_and_oversized(void)
{
    int fd = raw_client();
    CU_ASSERT_FATAL(fd >= 0);
    const char *bad = "{\"command\": stats}\n{\"command\":\"version\"}\n";
    CU_ASSERT_EQUAL(send(fd, bad, strlen(bad), MSG_NOSIGNAL), (ssize_t)strlen(bad));
    shutdown(fd, SHUT_WR);
    char *got = read_all(fd);
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "{\"return\":\"NOK\",\"message\":\"malformed JSON"));
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "\"version\":"));        /* the next request still works */
    free(got);
    close(fd);

    /* 100 KiB without a newline: NOK, then the server closes. */
    fd = raw_client();
    CU_ASSERT_FATAL(fd >= 0);
    size_t len = 100 * 1024;
    char *big = malloc(len);
    memset(big, 'x', len);
    memcpy(big, "{\"command\":\"version\",\"pad\":\"", 29);
    size_t off = 0;
    ssize_t n;
    while (off < len && (n = send(fd, big + off, len - off, MSG_NOSIGNAL)) > 0)
        off += (size_t)n;
    got = read_all(fd);
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "\"return\":\"NOK\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "longer than 65536 bytes"));
    free(got);
    free(big);
    close(fd);
}

static void test_top_talkers(void)
{
    json_t *t = ctl_json("top talkers 5");
    CU_ASSERT(json_is_array(json_object_get(t, "talkers")));
    CU_ASSERT(json_is_string(json_object_get(t, "source")));
    json_decref(t);
    CU_ASSERT_EQUAL(ctl("top talkers"), 0);
    CU_ASSERT(file_has("out", "source: active attacks"));
    CU_ASSERT_EQUAL(ctl("top talkers zero"), 1);
}

/* logrotate's way: move the file, ask for a reopen, the log starts anew. */
static void test_log_reopen(void)
{
    char eve[4300];
    struct stat st;

    snprintf(eve, sizeof(eve), "%s/eve.json", dir);
    CU_ASSERT_EQUAL(e2e_run("mv '%s' '%s.1'", eve, eve), 0);
    CU_ASSERT_EQUAL(ctl("log reopen"), 0);
    CU_ASSERT(file_has("out", "reopened"));
    e2e_sleep_ms(1500);                           /* a stats event a second */
    CU_ASSERT_EQUAL(stat(eve, &st), 0);
    CU_ASSERT(st.st_size > 0);
    e2e_run("rm -f '%s.1'", eve);
}

static void test_alerts_tail(void)
{
    /* timeout ends the tail (status 124): what it printed is the point. */
    e2e_run("timeout 3 '%s' -s '%s' alerts tail >'%s/tail' 2>'%s/tail.err'", e2e_mamorictl(), sock,
            dir, dir);
    CU_ASSERT(file_has("tail", "[1:1000002:1] ctl test pygments [**]"));
    CU_ASSERT(file_has("tail", "{TCP}"));
    e2e_run("timeout 3 '%s' -s '%s' --json alerts tail >'%s/tail.json' 2>/dev/null", e2e_mamorictl(),
            sock, dir);
    CU_ASSERT(file_has("tail.json", "\"event_type\":\"alert\""));
    CU_ASSERT(file_has("tail.json", "\"signature_id\":1000002"));
}

/* A subscriber that never reads while alerts stream: the sensor carries
 * on (packets keep being counted) and the lines it cannot take are lost
 * and counted. */
static void test_stuck_subscriber(void)
{
    int fd = raw_client();
    CU_ASSERT_FATAL(fd >= 0);
    const char *req = "{\"command\":\"alerts tail\"}\n";
    CU_ASSERT_EQUAL(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));

    json_t *before = ctl_json("stats"), *after = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(before);
    long long lost = 0;
    for (int i = 0; i < 30 && lost == 0; i++) {
        e2e_sleep_ms(1000);
        json_decref(after);
        after = ctl_json("stats");
        lost = stat_of(after, "ctl", "stream_lost");
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(after);
    printf("\n  stuck subscriber: %lld lines lost, packets %lld -> %lld\n", lost,
           stat_of(before, "decoder", "pkts"), stat_of(after, "decoder", "pkts"));
    CU_ASSERT(lost > 0);
    CU_ASSERT(stat_of(after, "decoder", "pkts") > stat_of(before, "decoder", "pkts"));
    json_decref(before);
    before = after;
    e2e_sleep_ms(1500);
    after = ctl_json("stats");
    CU_ASSERT(stat_of(after, "decoder", "pkts") > stat_of(before, "decoder", "pkts"));
    CU_ASSERT(stat_of(after, "detect", "alerts_logged") >
              stat_of(before, "detect", "alerts_logged"));
    json_decref(before);
    json_decref(after);
    close(fd);
}

static void test_shutdown(void)
{
    char status[4300];
    struct stat st;
    FILE *f = NULL;

    CU_ASSERT_EQUAL(ctl("shutdown"), 0);
    CU_ASSERT(file_has("out", "shutting down"));
    snprintf(status, sizeof(status), "%s/status", dir);
    for (int i = 0; i < 60 && (f = fopen(status, "r")) == NULL; i++)
        e2e_sleep_ms(500);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    int rc = -1;
    if (fscanf(f, "%d", &rc) != 1)
        rc = -1;
    fclose(f);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_NOT_EQUAL(stat(sock, &st), 0);                     /* the socket file is gone */
    CU_ASSERT(file_has("stderr", "alerts logged"));
    CU_ASSERT_EQUAL(ctl("version"), 1);
    CU_ASSERT(file_has("err", "cannot connect"));
    e2e_rmdir(dir);
}

static CU_TestInfo cases[] = {
    { "start mamori --dpdk with a control socket", test_start },
    { "version and help", test_version_and_help },
    { "stats move", test_stats },
    { "rules stats", test_rules_stats },
    { "detectors", test_detectors },
    { "detector set, then get shows it; bad input refused", test_detector_set_then_get },
    { "unknown command: NOK, exit 1", test_unknown_command },
    { "malformed JSON and oversized request", test_malformed_and_oversized },
    { "top talkers", test_top_talkers },
    { "log reopen", test_log_reopen },
    { "alerts tail", test_alerts_tail },
    { "a subscriber that never reads does not stall the sensor", test_stuck_subscriber },
    { "shutdown: exit status 0", test_shutdown },
    CU_TEST_INFO_NULL,
};

int main(void)
{
    return cunit_run("e2e_ctl", cases);
}
