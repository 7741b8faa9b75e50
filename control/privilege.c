/* privilege.c - drop the capabilities the capture no longer needs, in every
 * thread; check the control socket's permissions. */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "privilege.h"

/* The signal that makes another thread apply the plan to itself (glibc does
 * the same for setuid() across threads). Not used elsewhere in mamori. */
#define PRIVILEGE_SIGNAL (SIGRTMIN + 3)
#define DROP_ROUNDS 5                 /* rescans for threads that missed the signal */
#define DROP_WAIT_MS 500              /* per round, for the threads to answer */

#define CAP_BIT(c) (1ull << (c))

/* Names of the capabilities privilege_needed() may keep, for the log. */
static const struct { int cap; const char *name; } cap_names[] = {
    { CAP_NET_ADMIN, "cap_net_admin" },
    { CAP_BPF, "cap_bpf" },
};

/* What every thread applies: written once by privilege_drop() before any
 * thread is signalled, then only read (also from the signal handler). */
static struct {
    struct __user_cap_header_struct hdr;
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    unsigned long long keep;
    int last_cap;
    int bounding;                     /* CAP_SETPCAP held: the bounding set can shrink */
    int pending;                      /* signalled threads yet to apply */
    int failed;                       /* threads whose capset() failed */
} plan;

unsigned long long privilege_needed(const char *capture_name)
{
    if (strcmp(capture_name, "afxdp") == 0)
        return CAP_BIT(CAP_NET_ADMIN) | CAP_BIT(CAP_BPF);
    return 0;
}

/* The calling thread: bounding set first (that needs CAP_SETPCAP, which
 * the capset below removes), ambient set, then the three sets themselves.
 * Only system calls: it also runs in a signal handler. */
static int apply_here(void)
{
    for (int c = 0; plan.bounding && c <= plan.last_cap; c++)
        if (!(plan.keep & CAP_BIT(c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 &&
            errno != EINVAL)
            return -1;
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    return (int)syscall(SYS_capset, &plan.hdr, plan.data);
}

static void on_privilege_signal(int sig)
{
    int saved = errno;

    (void)sig;
    if (apply_here() != 0)
        __atomic_add_fetch(&plan.failed, 1, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&plan.pending, 1, __ATOMIC_RELEASE);
    errno = saved;
}

/* A capability set line ("CapPrm:") of /proc/self/task/TID/status; -1 ULL
 * when it cannot be read (the thread has ended). */
static unsigned long long task_caps(const char *tid, const char *field)
{
    char path[64], line[256];
    unsigned long long v = ~0ull;
    size_t n = strlen(field);
    FILE *f;

    snprintf(path, sizeof(path), "/proc/self/task/%s/status", tid);
    if ((f = fopen(path, "r")) == NULL)
        return v;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, field, n) == 0) {
            v = strtoull(line + n, NULL, 16);
            break;
        }
    fclose(f);
    return v;
}

/* Threads other than this one whose permitted set is not the plan's yet;
 * with `signal`, each is asked to apply it. */
static unsigned threads_not_dropped(bool signal)
{
    DIR *d = opendir("/proc/self/task");
    pid_t self = gettid(), pid = getpid();
    unsigned n = 0;
    struct dirent *de;

    if (d == NULL)
        return 1;
    while ((de = readdir(d)) != NULL) {
        pid_t tid = (pid_t)atoi(de->d_name);
        unsigned long long prm;
        if (tid <= 0 || tid == self)
            continue;
        if ((prm = task_caps(de->d_name, "CapPrm:")) == ~0ull || prm == plan.keep)
            continue;                 /* ended, or done */
        n++;
        if (!signal)
            continue;
        __atomic_add_fetch(&plan.pending, 1, __ATOMIC_RELAXED);
        if (syscall(SYS_tgkill, pid, tid, PRIVILEGE_SIGNAL) != 0)
            __atomic_sub_fetch(&plan.pending, 1, __ATOMIC_RELAXED);
    }
    closedir(d);
    return n;
}

static void wait_for_threads(void)
{
    struct timespec ms = { 0, 1000000 };

    for (unsigned i = 0; i < DROP_WAIT_MS && __atomic_load_n(&plan.pending, __ATOMIC_ACQUIRE) > 0;
         i++)
        nanosleep(&ms, NULL);
}

/* Signal the other threads until every one has the plan's permitted set:
 * a thread started meanwhile by one not yet done is found by the rescan. */
static int apply_everywhere(char *err, size_t errlen)
{
    struct sigaction sa = { .sa_handler = on_privilege_signal, .sa_flags = SA_RESTART };
    unsigned left = 0;

    sigemptyset(&sa.sa_mask);
    /* Left installed: a late delivery must not hit the default action,
     * which for a real-time signal ends the process. */
    if (sigaction(PRIVILEGE_SIGNAL, &sa, NULL) < 0) {
        snprintf(err, errlen, "dropping capabilities: sigaction: %s", strerror(errno));
        return -1;
    }
    for (unsigned round = 0; round < DROP_ROUNDS && threads_not_dropped(true) > 0; round++)
        wait_for_threads();
    if (__atomic_load_n(&plan.failed, __ATOMIC_RELAXED) > 0 ||
        (left = threads_not_dropped(false)) > 0) {
        snprintf(err, errlen, "dropping capabilities: %u thread%s still hold%s more than "
                 "needed (signal %d blocked?), %d failed", left, left == 1 ? "" : "s",
                 left == 1 ? "s" : "", PRIVILEGE_SIGNAL, plan.failed);
        return -1;
    }
    return 0;
}

static void names_of(unsigned long long caps, char *out, size_t outlen)
{
    size_t used = 0;

    snprintf(out, outlen, "none");
    for (size_t i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
        if ((caps & CAP_BIT(cap_names[i].cap)) && used < outlen)
            used += (size_t)snprintf(out + used, outlen - used, "%s%s", used ? "," : "",
                                     cap_names[i].name);
}

/* The plan: keep ∩ what this thread holds, in effective and permitted;
 * nothing inheritable. */
static int make_plan(unsigned long long keep, char *err, size_t errlen)
{
    struct __user_cap_data_struct now[_LINUX_CAPABILITY_U32S_3];
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");

    plan.last_cap = CAP_LAST_CAP;
    if (f != NULL) {
        if (fscanf(f, "%d", &plan.last_cap) != 1)
            plan.last_cap = CAP_LAST_CAP;
        fclose(f);
    }
    plan.hdr = (struct __user_cap_header_struct){ _LINUX_CAPABILITY_VERSION_3, 0 };
    if (syscall(SYS_capget, &plan.hdr, now) != 0) {
        snprintf(err, errlen, "dropping capabilities: capget: %s", strerror(errno));
        return -1;
    }
    unsigned long long held = (unsigned long long)now[1].permitted << 32 | now[0].permitted;
    plan.keep = keep & held;
    plan.bounding = (now[0].effective & CAP_BIT(CAP_SETPCAP)) != 0;
    memset(plan.data, 0, sizeof(plan.data));
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
        plan.data[i].permitted = plan.data[i].effective = (uint32_t)(plan.keep >> (32 * i));
    return 0;
}

int privilege_drop(unsigned long long keep, char *kept, size_t keptlen, char *err,
                   size_t errlen)
{
    if (make_plan(keep, err, errlen) < 0)
        return -1;
    /* This thread first: threads it starts from now on inherit the plan. */
    if (apply_here() != 0) {
        snprintf(err, errlen, "dropping capabilities: %s", strerror(errno));
        return -1;
    }
    if (apply_everywhere(err, errlen) < 0)
        return -1;
    names_of(plan.keep, kept, keptlen);
    return 0;
}

int privilege_check_socket(const char *path, char *err, size_t errlen)
{
    char dir[4096];
    struct stat st;

    if (lstat(path, &st) < 0) {
        snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "control socket %s: not a socket", path);
        return -1;
    }
    if (st.st_mode & S_IWOTH) {
        snprintf(err, errlen, "control socket %s is writable by every user (mode %04o): "
                 "anyone could stop the sensor or change its rules; give control-socket.mode "
                 "without o+w (default 0660)", path, (unsigned)(st.st_mode & 07777));
        return -1;
    }
    snprintf(dir, sizeof(dir), "%s", path);
    const char *parent = dirname(dir);
    if (stat(parent, &st) < 0) {
        snprintf(err, errlen, "control socket directory %s: %s", parent, strerror(errno));
        return -1;
    }
    if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
        snprintf(err, errlen, "control socket directory %s is writable by every user (mode "
                 "%04o) without the sticky bit: anyone could replace the socket; use a "
                 "directory only mamori's user can write", parent, (unsigned)(st.st_mode & 07777));
        return -1;
    }
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        snprintf(err, errlen, "control socket directory %s belongs to uid %u, not to mamori's "
                 "user or root: its owner could replace the socket", parent, (unsigned)st.st_uid);
        return -1;
    }
    return 0;
}
