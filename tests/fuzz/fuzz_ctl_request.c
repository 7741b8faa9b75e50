/* fuzz_ctl_request.c - the control socket's request parsing and command
 * dispatch (control/ctl_server.c, control/ctl_commands.c) on any bytes.
 *
 * The server and the real command table are set up once, on a socket in a
 * directory of our own, over a stub sensor: no workers and a capture that
 * counts nothing, but a real EVE log (for "log reopen") and real
 * statistical detectors (for "detectors", "detector get|set", "top
 * talkers"). "rules reload" is refused there (the sensor runs no matching),
 * so no input makes the harness read files it names.
 *
 * Each input is what one client sends before shutting its sending side:
 * the harness connects, writes it while polling the server as the main
 * loop would, and reads every reply until the server closes the
 * connection (which it must: the peer is done). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_commands.h"
#include "ctl_server.h"
#include "config.h"
#include "fuzz.h"
#include "reload.h"
#include "sensor.h"

/* More than one request line may hold (CTL_REQUEST_MAX), to reach the
 * oversized-request path, but bounded so that one input stays quick. */
#define INPUT_MAX (CTL_REQUEST_MAX + 4096)
/* Server polls one input may take: far more than any input needs; past it
 * the server has stopped answering, which is a bug. */
#define POLLS_MAX 100000

static char dir[64] = "/tmp/mamori-fuzz-ctl-XXXXXX";
static char sock_path[96], eve_path[96];   /* dir + a file name; fits sun_path */
static struct mamori_options opts;
static struct anomaly_config anomaly_cfg;
static struct sensor sensor;

static void no_counters(struct capture *c, counter_fn fn, void *ctx)
{
    (void)c, (void)fn, (void)ctx;
}

static const struct capture_ops stub_ops = { .name = "fuzz", .counters = no_counters };
static struct capture stub_capture = { .ops = &stub_ops };

static void teardown(void)
{
    ctl_commands_destroy(sensor.ctl_cmds);
    ctl_server_destroy(sensor.ctl);
    rule_reload_finish(&sensor);
    anomaly_engine_destroy(sensor.anomaly);
    eve_close(sensor.eve);
    options_free(&opts);
    unlink(eve_path);
    rmdir(dir);
}

static void setup_failed(const char *what, const char *err)
{
    fprintf(stderr, "fuzz_ctl_request: setup: %s: %s\n", what, err);
    exit(1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[512];
    (void)argc, (void)argv;

    if (mkdtemp(dir) == NULL)
        setup_failed(dir, strerror(errno));
    snprintf(sock_path, sizeof(sock_path), "%s/ctl.sock", dir);
    snprintf(eve_path, sizeof(eve_path), "%s/eve.json", dir);
    atexit(teardown);

    config_defaults(&opts);
    anomaly_config_default(&anomaly_cfg);
    sensor.opts = &opts;
    sensor.capture = &stub_capture;
    sensor.anomaly_cfg = &anomaly_cfg;
    if ((sensor.eve = eve_open(eve_path, err, sizeof(err))) == NULL)
        setup_failed("EVE log", err);
    sensor.anomaly = anomaly_engine_create(&anomaly_cfg, 1, NULL, NULL, err, sizeof(err));
    if (sensor.anomaly == NULL)
        setup_failed("anomaly engine", err);
    if ((sensor.ctl = ctl_server_create(sock_path, NULL, err, sizeof(err))) == NULL)
        setup_failed("control socket", err);
    if ((sensor.ctl_cmds = ctl_commands_create(sensor.ctl, &sensor, err, sizeof(err))) == NULL)
        setup_failed("control commands", err);
    return 0;
}

static int connect_client(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("fuzz_ctl_request: connect");
        abort();
    }
    return fd;
}

/* Replies are read and thrown away: what matters is that the server
 * survives the input and ends the connection. Returns false at EOF. */
static bool read_replies(int fd)
{
    char buf[65536];

    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t sent = 0;
    bool shut = false;

    if (size > INPUT_MAX)
        return 0;
    int fd = connect_client();
    for (unsigned polls = 0;; polls++) {
        if (polls == POLLS_MAX) {
            fprintf(stderr, "fuzz_ctl_request: the server never closed the connection\n");
            abort();
        }
        if (sent < size) {
            ssize_t n = send(fd, data + sent, size - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                sent = size;                 /* the server closed early (oversized) */
        }
        if (sent == size && !shut) {
            shutdown(fd, SHUT_WR);
            shut = true;
        }
        ctl_server_poll(sensor.ctl);
        if (!read_replies(fd))
            break;
    }
    close(fd);
    /* Let the server see the close before the next input connects. */
    ctl_server_poll(sensor.ctl);
    return 0;
}
