/* test_ctl.c - the control socket server (control/ctl_server.c) against a
 * fake command table, driven from one thread: the test plays the client on
 * ordinary sockets and calls ctl_server_poll() itself, as the sensor's
 * main loop would. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl_server.h"
#include "cunit_run.h"

static char dir[256];

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *sock_path(const char *name)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return path;
}

/* ---- fake commands -------------------------------------------------------- */

static int cmd_echo(void *ctx, json_t *args, json_t **reply, char *err, size_t errlen)
{
    (void)ctx, (void)err, (void)errlen;
    *reply = json_deep_copy(args);
    return 0;
}

static int cmd_fail(void *ctx, json_t *args, json_t **reply, char *err, size_t errlen)
{
    (void)ctx, (void)args, (void)reply;
    snprintf(err, errlen, "it failed: on purpose");
    return -1;
}

static int cmd_big(void *ctx, json_t *args, json_t **reply, char *err, size_t errlen)
{
    char *text = malloc(16384);
    (void)ctx, (void)args, (void)err, (void)errlen;
    memset(text, 'x', 16383);
    text[16383] = '\0';
    *reply = json_string(text);
    free(text);
    return 0;
}

static struct ctl_server *server(const char *name, const struct ctl_options *opts)
{
    char err[256];
    struct ctl_server *srv = ctl_server_create(sock_path(name), opts, err, sizeof(err));

    if (srv == NULL) {
        fprintf(stderr, "ctl_server_create: %s\n", err);
        return NULL;
    }
    CU_ASSERT_EQUAL(ctl_server_register(srv, "echo", cmd_echo, NULL, "the arguments back"), 0);
    CU_ASSERT_EQUAL(ctl_server_register(srv, "fail", cmd_fail, NULL, "always NOK"), 0);
    CU_ASSERT_EQUAL(ctl_server_register(srv, "big", cmd_big, NULL, "16 KiB reply"), 0);
    CU_ASSERT_EQUAL(ctl_server_register_stream(srv, "alerts tail", "alerts", "stream"), 0);
    CU_ASSERT_EQUAL(ctl_server_register(srv, "echo", cmd_echo, NULL, "twice"), -1);
    return srv;
}

/* ---- the client side ------------------------------------------------------ */

/* sun_path is short (108 bytes): a longer path is cut, and connect fails. */
static void set_sun_path(struct sockaddr_un *sa, const char *path)
{
    size_t len = strlen(path);
    if (len >= sizeof(sa->sun_path))
        len = sizeof(sa->sun_path) - 1;
    memcpy(sa->sun_path, path, len);
    sa->sun_path[len] = '\0';
}

static int client(const char *name)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    set_sun_path(&sa, sock_path(name));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("connect");
        close(fd);
        return -1;
    }
    return fd;
}

static void say(int fd, const char *text)
{
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        off += (size_t)n;
    }
}

/* The next reply line (malloc'd, no newline), polling the server meanwhile;
 * NULL at EOF or after 2 s. */
static char *reply(struct ctl_server *srv, int fd)
{
    static char buf[1 << 17];
    uint64_t deadline = now_ms() + 2000;

    while (now_ms() < deadline) {
        ctl_server_poll(srv);
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0)
            return NULL;
        if (n > 0) {
            char *nl = memchr(buf, '\n', (size_t)n);
            if (nl != NULL) {
                size_t len = (size_t)(nl - buf) + 1;
                if (recv(fd, buf, len, 0) != (ssize_t)len)
                    return NULL;
                buf[len - 1] = '\0';
                return strdup(buf);
            }
        }
        usleep(200);
    }
    return NULL;
}

/* Whether the server closed the connection (EOF) within 3 s. */
static bool closed_by_server(struct ctl_server *srv, int fd)
{
    char buf[4096];
    uint64_t deadline = now_ms() + 3000;

    while (now_ms() < deadline) {
        ctl_server_poll(srv);
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0)
            return true;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return true;
        usleep(200);
    }
    return false;
}

/* A reply parsed: "OK"/"NOK" in *ret, the message returned (new ref). */
static json_t *parse_reply(char *line, const char **ret)
{
    static char ret_buf[8];
    json_t *r = line ? json_loads(line, 0, NULL) : NULL;
    json_t *msg = json_incref(json_object_get(r, "message"));

    snprintf(ret_buf, sizeof(ret_buf), "%s", r ? json_string_value(json_object_get(r, "return")) : "");
    *ret = ret_buf;
    json_decref(r);
    free(line);
    return msg;
}

/* Send one request and return its message; *ret gets "OK" or "NOK". */
static json_t *ask(struct ctl_server *srv, int fd, const char *request, const char **ret)
{
    say(fd, request);
    return parse_reply(reply(srv, fd), ret);
}

static bool message_has(json_t *msg, const char *text)
{
    return json_is_string(msg) && strstr(json_string_value(msg), text) != NULL;
}

/* ---- the socket file ------------------------------------------------------- */

static void test_socket_file(void)
{
    char err[256], path[512];
    struct stat st;

    /* The directory is created; the socket is 0660. */
    struct ctl_server *a = server("run/a/ctl.sock", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    snprintf(path, sizeof(path), "%s", sock_path("run/a/ctl.sock"));
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT(S_ISSOCK(st.st_mode));
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0660);
    CU_ASSERT_STRING_EQUAL(ctl_server_path(a), path);

    /* A live socket is not taken over. */
    CU_ASSERT_PTR_NULL(ctl_server_create(path, NULL, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "in use"));
    CU_ASSERT_EQUAL(stat(path, &st), 0);       /* and the failed attempt left it alone */
    ctl_server_destroy(a);
    CU_ASSERT_NOT_EQUAL(stat(path, &st), 0);  /* removed at the end */

    /* A stale socket (bound, then its process gone) is replaced. */
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    set_sun_path(&sa, path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CU_ASSERT_EQUAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    a = ctl_server_create(path, NULL, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL(a);
    ctl_server_destroy(a);

    /* A file that is not a socket is never removed. */
    FILE *f = fopen(path, "w");
    fputs("keep me\n", f);
    fclose(f);
    CU_ASSERT_PTR_NULL(ctl_server_create(path, NULL, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a socket"));
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT(S_ISREG(st.st_mode));
    unlink(path);

    /* A path too long for sun_path is named. */
    char longpath[300];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    CU_ASSERT_PTR_NULL(ctl_server_create(longpath, NULL, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "longer than"));
}

/* ---- requests --------------------------------------------------------------- */

static void test_requests(void)
{
    struct ctl_server *srv = server("req.sock", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
    int fd = client("req.sock");
    const char *ret;
    json_t *m;

    m = ask(srv, fd, "{\"command\":\"echo\",\"arguments\":{\"a\":1,\"b\":\"two\"}}\n", &ret);
    CU_ASSERT_STRING_EQUAL(ret, "OK");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(m, "a")), 1);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(m, "b")), "two");
    json_decref(m);

    m = ask(srv, fd, "{\"command\":\"echo\"}\n", &ret);          /* no arguments: {} */
    CU_ASSERT_STRING_EQUAL(ret, "OK");
    CU_ASSERT(json_is_object(m) && json_object_size(m) == 0);
    json_decref(m);

    m = ask(srv, fd, "{\"command\":\"fail\"}\n", &ret);
    CU_ASSERT_STRING_EQUAL(ret, "NOK");
    CU_ASSERT(message_has(m, "it failed: on purpose"));
    json_decref(m);

    m = ask(srv, fd, "{\"command\":\"frobnicate\"}\n", &ret);
    CU_ASSERT_STRING_EQUAL(ret, "NOK");
    CU_ASSERT(message_has(m, "unknown command 'frobnicate'"));
    json_decref(m);

    m = ask(srv, fd, "{\"command\": \"echo\", oops}\n", &ret);
    CU_ASSERT_STRING_EQUAL(ret, "NOK");
    CU_ASSERT(message_has(m, "malformed JSON"));
    json_decref(m);

    m = ask(srv, fd, "[\"echo\"]\n", &ret);
    CU_ASSERT_STRING_EQUAL(ret, "NOK");
    CU_ASSERT(message_has(m, "JSON object"));
    json_decref(m);

    m = ask(srv, fd, "{\"cmd\":\"echo\"}\n", &ret);
    CU_ASSERT_STRING_EQUAL(ret, "NOK");
    CU_ASSERT(message_has(m, "no \"command\""));
    json_decref(m);

    m = ask(srv, fd, "{\"command\":\"echo\",\"arguments\":[1]}\n", &ret);
    CU_ASSERT_STRING_EQUAL(ret, "NOK");
    CU_ASSERT(message_has(m, "\"arguments\""));
    json_decref(m);

    /* Suricata clients open with a version handshake. */
    m = ask(srv, fd, "{\"version\":\"0.2\"}\n", &ret);
    CU_ASSERT_STRING_EQUAL(ret, "OK");
    CU_ASSERT_PTR_NULL(m);

    m = ask(srv, fd, "{\"command\":\"help\"}\n", &ret);
    CU_ASSERT_STRING_EQUAL(ret, "OK");
    CU_ASSERT_EQUAL(json_array_size(m), 5);                     /* help + 4 */
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(m, 1), "command")), "echo");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(m, 1), "help")),
                           "the arguments back");
    json_decref(m);

    /* Two requests in one write, a blank line and CRLF between: two replies
     * in order. Then one request in three writes. */
    say(fd, "{\"command\":\"echo\",\"arguments\":{\"n\":1}}\r\n\n{\"command\":\"echo\",\"arguments\":{\"n\":2}}\n");
    m = parse_reply(reply(srv, fd), &ret);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(m, "n")), 1);
    json_decref(m);
    m = parse_reply(reply(srv, fd), &ret);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(m, "n")), 2);
    json_decref(m);
    say(fd, "{\"comm");
    ctl_server_poll(srv);
    say(fd, "and\":\"echo\",\"argu");
    ctl_server_poll(srv);
    m = ask(srv, fd, "ments\":{\"n\":3}}\n", &ret);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(m, "n")), 3);
    json_decref(m);

    CU_ASSERT_EQUAL(ctl_server_counter(srv, CTL_ERRORS), 6);
    CU_ASSERT_EQUAL(ctl_server_counter(srv, CTL_REQUESTS), 13);
    close(fd);
    ctl_server_destroy(srv);
}

/* A last request without its newline, then the client shuts its side:
 * answered, then closed. */
static void test_half_close(void)
{
    struct ctl_server *srv = server("half.sock", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
    int fd = client("half.sock");
    const char *ret;

    say(fd, "{\"command\":\"echo\",\"arguments\":{\"last\":true}}");
    shutdown(fd, SHUT_WR);
    json_t *m = parse_reply(reply(srv, fd), &ret);
    CU_ASSERT_STRING_EQUAL(ret, "OK");
    CU_ASSERT(json_is_true(json_object_get(m, "last")));
    json_decref(m);
    CU_ASSERT(closed_by_server(srv, fd));
    close(fd);
    ctl_server_destroy(srv);
}

/* ---- limits ------------------------------------------------------------------ */

static void test_oversized_request(void)
{
    struct ctl_options opts = { .request_max = 1024 };
    struct ctl_server *srv = server("big.sock", &opts);
    CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
    int fd = client("big.sock"), ok = client("big.sock");
    char *big = malloc(5001);
    const char *ret;

    memset(big, ' ', 5000);
    big[5000] = '\0';
    memcpy(big, "{\"command\":\"echo\",\"arguments\":{\"pad\":\"", 38);
    say(fd, big);
    json_t *m = parse_reply(reply(srv, fd), &ret);
    CU_ASSERT_STRING_EQUAL(ret, "NOK");
    CU_ASSERT(message_has(m, "longer than 1024 bytes"));
    json_decref(m);
    CU_ASSERT(closed_by_server(srv, fd));
    CU_ASSERT_EQUAL(ctl_server_counter(srv, CTL_OVERSIZED), 1);

    /* A request of exactly the limit is fine, and the other client too. */
    memset(big, ' ', 1023);
    memcpy(big, "{\"command\":\"echo\"}", 18);
    memcpy(big + 1023, "\n", 2);
    m = ask(srv, ok, big, &ret);
    CU_ASSERT_STRING_EQUAL(ret, "OK");
    json_decref(m);
    free(big);
    close(fd);
    close(ok);
    ctl_server_destroy(srv);
}

static void test_too_many_clients(void)
{
    struct ctl_options opts = { .clients_max = 2 };
    struct ctl_server *srv = server("many.sock", &opts);
    CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
    int a = client("many.sock"), b = client("many.sock");
    const char *ret;
    json_t *m;

    for (int i = 0; i < 10; i++)
        ctl_server_poll(srv);
    CU_ASSERT_EQUAL(ctl_server_clients(srv), 2);
    int c = client("many.sock");
    m = parse_reply(reply(srv, c), &ret);
    CU_ASSERT_STRING_EQUAL(ret, "NOK");
    CU_ASSERT(message_has(m, "too many control clients (2)"));
    json_decref(m);
    CU_ASSERT(closed_by_server(srv, c));
    CU_ASSERT_EQUAL(ctl_server_counter(srv, CTL_REFUSED), 1);
    m = ask(srv, a, "{\"command\":\"echo\"}\n", &ret);
    CU_ASSERT_STRING_EQUAL(ret, "OK");
    json_decref(m);

    /* A slot freed is a slot taken. */
    close(b);
    for (int i = 0; i < 10; i++)
        ctl_server_poll(srv);
    CU_ASSERT_EQUAL(ctl_server_clients(srv), 1);
    close(c);
    c = client("many.sock");
    m = ask(srv, c, "{\"command\":\"echo\"}\n", &ret);
    CU_ASSERT_STRING_EQUAL(ret, "OK");
    json_decref(m);
    close(a);
    close(c);
    ctl_server_destroy(srv);
}

/* A client that asks and asks but never reads its replies: dropped when
 * its output passes the cap, and no poll ever waits for it. */
static void test_client_that_never_reads(void)
{
    struct ctl_options opts = { .output_max = 64 * 1024 };
    struct ctl_server *srv = server("slow.sock", &opts);
    CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
    int fd = client("slow.sock"), other = client("slow.sock");
    uint64_t slowest = 0;
    const char *ret;

    for (int i = 0; i < 200; i++) {
        say(fd, "{\"command\":\"big\"}\n");   /* 16 KiB replies, 3 MiB in all */
        uint64_t t0 = now_ms();
        ctl_server_poll(srv);
        if (now_ms() - t0 > slowest)
            slowest = now_ms() - t0;
        if (ctl_server_counter(srv, CTL_DROPPED_SLOW) > 0)
            break;
    }
    CU_ASSERT_EQUAL(ctl_server_counter(srv, CTL_DROPPED_SLOW), 1);
    CU_ASSERT(slowest < 100);
    CU_ASSERT_EQUAL(ctl_server_clients(srv), 1);
    json_t *m = ask(srv, other, "{\"command\":\"echo\"}\n", &ret);
    CU_ASSERT_STRING_EQUAL(ret, "OK");
    json_decref(m);
    close(fd);
    close(other);
    ctl_server_destroy(srv);
}

/* ---- streams ------------------------------------------------------------------ */

/* One subscriber's side: what it has read, counted. */
struct follower {
    int fd;
    char buf[1 << 16];
    size_t have;
    unsigned lines;              /* alert lines */
    uint64_t told;               /* lines the server said were lost */
};

/* Read every complete line there is; count alert lines and lost notices. */
static void drain_stream(struct follower *f)
{
    for (;;) {
        ssize_t n = recv(f->fd, f->buf + f->have, sizeof(f->buf) - f->have, MSG_DONTWAIT);
        if (n <= 0)
            return;
        f->have += (size_t)n;
        char *start = f->buf, *nl;
        while ((nl = memchr(start, '\n', (size_t)(f->buf + f->have - start))) != NULL) {
            *nl = '\0';
            json_t *ev = json_loads(start, 0, NULL);
            const char *type = json_string_value(json_object_get(ev, "event_type"));
            if (type && strcmp(type, "lost") == 0)
                f->told += (uint64_t)json_integer_value(json_object_get(ev, "lost"));
            else if (type && strcmp(type, "alert") == 0)
                f->lines++;
            json_decref(ev);
            start = nl + 1;
        }
        f->have = (size_t)(f->buf + f->have - start);
        memmove(f->buf, start, f->have);
    }
}

static void test_alert_stream(void)
{
    struct ctl_options opts = { .stream_max = 8192 };
    struct ctl_server *srv = server("tail.sock", &opts);
    CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
    static struct follower rd, st;
    int reader = client("tail.sock"), stuck = client("tail.sock");
    const char *ret;
    char line[256];
    unsigned total = 4000;
    uint64_t slowest = 0;

    rd.fd = reader;
    st.fd = stuck;

    CU_ASSERT_FALSE(ctl_server_subscribed(srv, "alerts"));
    json_t *m = ask(srv, reader, "{\"command\":\"alerts tail\"}\n", &ret);
    CU_ASSERT_STRING_EQUAL(ret, "OK");
    json_decref(m);
    m = ask(srv, stuck, "{\"command\":\"alerts tail\"}\n", &ret);
    CU_ASSERT_STRING_EQUAL(ret, "OK");
    json_decref(m);
    CU_ASSERT(ctl_server_subscribed(srv, "alerts"));
    CU_ASSERT_FALSE(ctl_server_subscribed(srv, "flows"));

    /* 4000 lines of ~200 bytes: the reader keeps up, the stuck client
     * fills its socket and its 8 KiB and then loses lines. */
    for (unsigned i = 0; i < total; i++) {
        snprintf(line, sizeof(line), "{\"event_type\":\"alert\",\"n\":%u,\"pad\":\"%0160u\"}", i, 0u);
        uint64_t t0 = now_ms();
        ctl_server_broadcast(srv, "alerts", line);
        ctl_server_poll(srv);
        if (now_ms() - t0 > slowest)
            slowest = now_ms() - t0;
        drain_stream(&rd);
    }
    for (int i = 0; i < 100; i++) {
        ctl_server_poll(srv);
        drain_stream(&rd);
    }
    CU_ASSERT(slowest < 100);
    CU_ASSERT_EQUAL(rd.lines, total);
    CU_ASSERT_EQUAL(rd.told, 0);
    uint64_t lost = ctl_server_counter(srv, CTL_STREAM_LOST);
    CU_ASSERT(lost > 0);
    CU_ASSERT_EQUAL(ctl_server_counter(srv, CTL_STREAM_LINES), 2 * total - lost);

    /* The stuck client reads at last: what it got plus what it is told it
     * lost, once the next line comes, is everything. */
    for (int i = 0; i < 200; i++) {
        ctl_server_poll(srv);
        drain_stream(&st);
    }
    ctl_server_broadcast(srv, "alerts", "{\"event_type\":\"alert\",\"last\":true}");
    for (int i = 0; i < 50; i++) {
        ctl_server_poll(srv);
        drain_stream(&st);
    }
    CU_ASSERT_EQUAL(st.told, lost);
    CU_ASSERT_EQUAL(st.lines + lost, total + 1);

    /* Requests from a subscriber are not commands any more. */
    say(stuck, "{\"command\":\"echo\"}\n");
    for (int i = 0; i < 20; i++)
        ctl_server_poll(srv);
    CU_ASSERT_EQUAL(ctl_server_counter(srv, CTL_REQUESTS), 2);

    close(stuck);
    for (int i = 0; i < 20; i++)
        ctl_server_poll(srv);
    CU_ASSERT(ctl_server_subscribed(srv, "alerts"));
    CU_ASSERT_EQUAL(ctl_server_clients(srv), 1);

    /* At the end the reader is told the stream ended. */
    ctl_server_destroy(srv);
    char buf[512];
    ssize_t n = recv(reader, buf, sizeof(buf) - 1, 0);
    CU_ASSERT(n > 0);
    buf[n > 0 ? n : 0] = '\0';
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"event_type\":\"end\""));
    close(reader);
}

static CU_TestInfo cases[] = {
    { "socket file: directory, mode, live, stale, not a socket", test_socket_file },
    { "requests: OK, NOK, malformed, handshake, help, pipelined", test_requests },
    { "a last request without newline before EOF", test_half_close },
    { "oversized request: NOK and closed", test_oversized_request },
    { "too many clients: NOK for the extra one", test_too_many_clients },
    { "a client that never reads is dropped", test_client_that_never_reads },
    { "alerts tail: lines, losses counted and told, end line", test_alert_stream },
    CU_TEST_INFO_NULL,
};

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/mamori-ctl-XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    int rc = cunit_run("ctl", cases);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
