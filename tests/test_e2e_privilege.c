/* test_e2e_privilege.c - least privilege end to end.
 *
 * A sensor that keeps running (DPDK net_pcap looping over a capture) is
 * inspected through /proc while it runs: once set up, no thread of it may
 * hold a capability (DPDK keeps none), and it listens on no TCP port
 * unless --metrics asks, then on 127.0.0.1 only. The control socket is
 * refused when other users could write to it or replace it. */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cunit_run.h"
#include "e2e.h"

#define MAX_LISTENERS 16

static const char *CAPTURE = "pcaps/zeek/http_bro.org.pcap";

/* mamori `args` --control-socket dir/run/mamori.sock; its pid once the
 * socket exists (set-up is done: privileges are dropped just after it is
 * created) and a second more has passed. */
static pid_t start_sensor(const char *dir, const char *args)
{
    char all[8192], sock[4300];
    struct stat st;

    snprintf(sock, sizeof(sock), "%s/run/mamori.sock", dir);
    snprintf(all, sizeof(all), "--control-socket '%s' %s", sock, args);
    pid_t pid = e2e_spawn_mamori(dir, all);
    for (int i = 0; i < 600 && stat(sock, &st) != 0; i++)
        e2e_sleep_ms(100);
    CU_ASSERT_EQUAL(stat(sock, &st), 0);
    e2e_sleep_ms(1000);               /* past the drop, the workers running */
    return pid;
}

/* A DPDK sensor looping over a capture, plus `extra` options. */
static pid_t start_dpdk_sensor(const char *dir, const char *extra)
{
    char args[8192];

    snprintf(args, sizeof(args),
             "--dpdk --stats-interval 1 --rule-cache none -l '%s' %s -- -l 0-1 --no-pci %s "
             "--log-level=lib.eal:error --vdev='net_pcap0,rx_pcap=%s,infinite_rx=1'",
             dir, extra, e2e_eal_memory_args(), e2e_data_path(CAPTURE));
    return start_sensor(dir, args);
}

/* Whether dir/name contains text. */
static bool file_has(const char *dir, const char *name, const char *text)
{
    char path[4300];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return e2e_file_has(path, text);
}

/* One capability set ("CapEff:") of a thread's status file; ~0 if absent. */
static unsigned long long caps_of(const char *status, const char *field)
{
    FILE *f = fopen(status, "r");
    char line[256];
    unsigned long long v = ~0ull;

    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, field, strlen(field)) == 0)
            v = strtoull(line + strlen(field), NULL, 16);
    if (f != NULL)
        fclose(f);
    return v;
}

/* Every thread of pid: effective, permitted (and as root, bounding) sets
 * exactly `want`. Returns the number of threads checked. */
static unsigned assert_capabilities(pid_t pid, unsigned long long want)
{
    char path[300];
    unsigned n = 0;
    struct dirent *de;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/%d/task/%s/status", (int)pid, de->d_name);
        unsigned long long eff = caps_of(path, "CapEff:"), prm = caps_of(path, "CapPrm:");
        if (eff == ~0ull)
            continue;                 /* ended meanwhile */
        CU_ASSERT_EQUAL(eff, want);
        CU_ASSERT_EQUAL(prm, want);
        if (geteuid() == 0)
            CU_ASSERT_EQUAL(caps_of(path, "CapBnd:"), want);
        if (eff != want || prm != want)
            fprintf(stderr, "thread %s: CapEff %llx CapPrm %llx\n", de->d_name, eff, prm);
        n++;
    }
    closedir(d);
    return n;
}

/* Whether pid has a descriptor on socket inode. */
static bool owns_inode(pid_t pid, unsigned long inode)
{
    char path[300], link[128], want[64];
    struct dirent *de;
    bool found = false;

    snprintf(want, sizeof(want), "socket:[%lu]", inode);
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    while (d != NULL && !found && (de = readdir(d)) != NULL) {
        snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)pid, de->d_name);
        ssize_t n = readlink(path, link, sizeof(link) - 1);
        if (n > 0) {
            link[n] = '\0';
            found = strcmp(link, want) == 0;
        }
    }
    if (d != NULL)
        closedir(d);
    return found;
}

/* pid's listening TCP sockets as "HEXADDR:PORT" from /proc/net/tcp{,6}. */
static unsigned listeners_of(pid_t pid, char out[MAX_LISTENERS][80])
{
    static const char *const tables[] = { "/proc/net/tcp", "/proc/net/tcp6" };
    unsigned n = 0;

    for (unsigned t = 0; t < 2; t++) {
        FILE *f = fopen(tables[t], "r");
        char line[512], addr[65];
        unsigned port, state;
        unsigned long inode;
        while (f != NULL && fgets(line, sizeof(line), f) != NULL)
            if (sscanf(line, " %*d: %64[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*s %*s %*s %*u "
                       "%*d %lu", addr, &port, &state, &inode) == 4 &&
                state == 0x0A && owns_inode(pid, inode) && n < MAX_LISTENERS)
                snprintf(out[n++], 80, "%s:%u", addr, port);
        if (f != NULL)
            fclose(f);
    }
    return n;
}

/* DPDK capture: every thread (main, lcore workers, EAL and telemetry
 * threads) without a capability; no TCP listener without --metrics. */
static void test_dpdk_keeps_no_capability(void)
{
    char *dir = e2e_mkdtemp(), listeners[MAX_LISTENERS][80];
    pid_t pid = start_dpdk_sensor(dir, "");

    CU_ASSERT(assert_capabilities(pid, 0) >= 2);
    CU_ASSERT(file_has(dir, "stderr", "mamori: capabilities kept: none"));
    CU_ASSERT_EQUAL(listeners_of(pid, listeners), 0);
    CU_ASSERT_EQUAL(e2e_stop_mamori(pid, true), 0);
    e2e_rmdir(dir);
}

/* --metrics PORT: one listener, on 127.0.0.1 ("0100007F" in /proc). */
static void test_metrics_listens_on_loopback(void)
{
    char *dir = e2e_mkdtemp(), listeners[MAX_LISTENERS][80], extra[64], want[80];
    unsigned port = e2e_free_port(false);

    snprintf(extra, sizeof(extra), "--metrics %u", port);
    pid_t pid = start_dpdk_sensor(dir, extra);
    snprintf(want, sizeof(want), "0100007F:%u", port);
    unsigned n = listeners_of(pid, listeners);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT(n == 1 && strcmp(listeners[0], want) == 0);
    assert_capabilities(pid, 0);
    CU_ASSERT_EQUAL(e2e_stop_mamori(pid, true), 0);
    e2e_rmdir(dir);
}

/* AF_XDP on one end of a veth pair: every thread keeps exactly
 * cap_net_admin (12) and cap_bpf (39), and at exit the XDP program is
 * detached, which needs the first. */
static void test_afxdp_keeps_net_admin_and_bpf(void)
{
    char *dir = e2e_mkdtemp(), args[4400], veth[16], peer[16];

    snprintf(veth, sizeof(veth), "mpv%d", (int)getpid() % 100000);
    snprintf(peer, sizeof(peer), "mpp%d", (int)getpid() % 100000);
    if (e2e_run("ip link add %s type veth peer name %s && ip link set %s up && "
                "ip link set %s up", veth, peer, veth, peer) != 0) {
        printf("\n  no veth pair (not root, or no veth driver): AF_XDP not checked\n");
        e2e_rmdir(dir);
        return;
    }
    snprintf(args, sizeof(args), "-i %s --xdp-mode generic -l '%s'", veth, dir);
    pid_t pid = start_sensor(dir, args);
    CU_ASSERT(file_has(dir, "stderr", "mamori: capabilities kept: cap_net_admin,cap_bpf"));
    CU_ASSERT(assert_capabilities(pid, 1ull << 12 | 1ull << 39) >= 2);
    CU_ASSERT_EQUAL(e2e_stop_mamori(pid, true), 0);
    CU_ASSERT_NOT_EQUAL(e2e_run("ip link show %s | grep -q xdp", veth), 0);
    e2e_run("ip link del %s", veth);
    e2e_rmdir(dir);
}

/* mamori -r with a control socket at dir/sub/m.sock, sub of the given
 * mode, and `extra` options; its exit status. */
static int run_with_socket_in(const char *dir, unsigned mode, const char *extra)
{
    return e2e_run("mkdir -p '%s/sub' && chmod %o '%s/sub' && timeout 120 '%s' -w 1 "
                   "--rule-cache none -l '%s/out' -r '%s' --control-socket '%s/sub/m.sock' %s "
                   ">'%s/stdout' 2>'%s/stderr'", dir, mode, dir, e2e_mamori(), dir,
                   e2e_data_path(CAPTURE), dir, extra, dir, dir);
}

static void test_control_socket_permissions(void)
{
    char *dir = e2e_mkdtemp(), config[4300], extra[4400];

    /* a directory anyone may write to: anyone could replace the socket */
    CU_ASSERT_EQUAL(run_with_socket_in(dir, 0777, ""), 1);
    CU_ASSERT(file_has(dir, "stderr", "is writable by every user (mode 0777) without the "
                       "sticky bit"));
    /* the sticky bit (as /tmp) stops that */
    CU_ASSERT_EQUAL(run_with_socket_in(dir, 01777, ""), 0);
    CU_ASSERT(file_has(dir, "stderr", "capabilities kept: none"));
    /* a socket anyone may write to */
    snprintf(config, sizeof(config), "%s/mamori.yaml", dir);
    FILE *f = fopen(config, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("control-socket:\n  mode: 0666\n", f);
    fclose(f);
    snprintf(extra, sizeof(extra), "-c '%s'", config);
    CU_ASSERT_EQUAL(run_with_socket_in(dir, 0750, extra), 1);
    CU_ASSERT(file_has(dir, "stderr", "is writable by every user (mode 0666)"));
    e2e_rmdir(dir);
}

int main(void)
{
    CU_TestInfo cases[] = {
        { "dpdk keeps no capability, no listener", test_dpdk_keeps_no_capability },
        { "--metrics listens on 127.0.0.1", test_metrics_listens_on_loopback },
        { "afxdp keeps cap_net_admin and cap_bpf", test_afxdp_keeps_net_admin_and_bpf },
        { "control socket permissions", test_control_socket_permissions },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("e2e_privilege", cases);
}
