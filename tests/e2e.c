/* e2e.c - running mamori and tshark, reading what they wrote. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"

static const char *env_or_die(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0') {
        fprintf(stderr, "e2e: %s is not set (run through meson test)\n", name);
        exit(2);
    }
    return v;
}

const char *e2e_mamori(void)
{
    return env_or_die("MAMORI_BIN");
}

const char *e2e_mamorictl(void)
{
    const char *bin = getenv("MAMORICTL_BIN");
    if (bin == NULL || *bin == '\0') {
        fprintf(stderr, "MAMORICTL_BIN is not set (run through meson test)\n");
        exit(2);
    }
    return bin;
}

const char *e2e_eal_memory_args(void)
{
    return e2e_run("test \"$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages "
                   "2>/dev/null || echo 0)\" -ge 256") == 0
               ? "--in-memory"
               : "--no-huge -m 512 --no-shconf";
}

void e2e_sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

const char *e2e_data(void)
{
    return env_or_die("MAMORI_DATA");
}

const char *e2e_data_path(const char *rel)
{
    static char path[4096];
    snprintf(path, sizeof(path), "%s/%s", e2e_data(), rel);
    return path;
}

char *e2e_mkdtemp(void)
{
    const char *tmp = getenv("TMPDIR");
    char templ[4096];

    snprintf(templ, sizeof(templ), "%s/mamori-e2e-XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(templ) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    return strdup(templ);
}

void e2e_rmdir(char *dir)
{
    if (dir != NULL && strstr(dir, "mamori-e2e-") != NULL)
        e2e_run("rm -rf '%s'", dir);
    free(dir);
}

int e2e_run(const char *fmt, ...)
{
    char cmd[16384];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc == -1 || !WIFEXITED(rc)) {
        fprintf(stderr, "e2e: '%s' did not exit normally (status %d)\n", cmd, rc);
        return -1;
    }
    if (WEXITSTATUS(rc) != 0)
        fprintf(stderr, "e2e: '%s' exited %d\n", cmd, WEXITSTATUS(rc));
    return WEXITSTATUS(rc);
}

pid_t e2e_spawn_mamori(const char *dir, const char *args)
{
    char cmd[16384];
    snprintf(cmd, sizeof(cmd), "exec '%s' %s >'%s/stdout' 2>'%s/stderr'", e2e_mamori(), args,
             dir, dir);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

int e2e_stop_mamori(pid_t pid, bool term)
{
    int status;

    if (term)
        kill(pid, SIGTERM);
    for (int i = 0; i < 600; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        e2e_sleep_ms(100);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

unsigned e2e_free_port(bool udp)
{
    int fd = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);

    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

json_t *e2e_read_events(const char *eve_path, const char *event_type)
{
    json_t *events = json_array();
    FILE *f = fopen(eve_path, "r");
    char *line = NULL;
    size_t cap = 0;

    if (f == NULL)
        return events;
    while (getline(&line, &cap, f) > 0) {
        json_error_t jerr;
        json_t *ev = json_loads(line, 0, &jerr);
        if (ev == NULL) {
            fprintf(stderr, "e2e: %s: not JSON: %s\n", eve_path, jerr.text);
            json_array_append_new(events, json_string("<invalid JSON line>"));
            continue;
        }
        const char *type = json_string_value(json_object_get(ev, "event_type"));
        if (event_type == NULL || (type && strcmp(type, event_type) == 0))
            json_array_append_new(events, ev);
        else
            json_decref(ev);
    }
    free(line);
    fclose(f);
    return events;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

json_t *e2e_flow_lines(const char *eve_path)
{
    json_t *flows = e2e_read_events(eve_path, "flow");
    size_t n = json_array_size(flows);
    char **lines = calloc(n ? n : 1, sizeof(char *));
    json_t *out = json_array();

    for (size_t i = 0; i < n; i++)
        lines[i] = json_dumps(json_array_get(flows, i), JSON_COMPACT | JSON_SORT_KEYS);
    qsort(lines, n, sizeof(char *), compare_strings);
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(out, json_string(lines[i]));
        free(lines[i]);
    }
    free(lines);
    json_decref(flows);
    return out;
}

/* tshark lists a 5-tuple more than once when a dissector (SNMP, RTP, T.38)
 * registers a conversation of its own, so distinct endpoint pairs are
 * counted: that is what a flow is. */
int e2e_tshark_conversations(const char *pcap, unsigned *tcp, unsigned *udp)
{
    char cmd[8192], line[1024], a[256], arrow[8], b[256], key[600];
    json_t *seen = json_object();
    unsigned *section = NULL;

    snprintf(cmd, sizeof(cmd), "tshark -n -r '%s' -q -z conv,tcp -z conv,udp 2>/dev/null", pcap);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    *tcp = *udp = 0;
    while (fgets(line, sizeof(line), p) != NULL) {
        if (strstr(line, "TCP Conversations"))
            section = tcp;
        else if (strstr(line, "UDP Conversations"))
            section = udp;
        else if (section && sscanf(line, "%255s %7s %255s", a, arrow, b) == 3 &&
                 strcmp(arrow, "<->") == 0) {
            bool a_first = strcmp(a, b) < 0;
            snprintf(key, sizeof(key), "%s %s %s", section == tcp ? "tcp" : "udp",
                     a_first ? a : b, a_first ? b : a);
            if (json_object_get(seen, key) == NULL) {
                json_object_set_new(seen, key, json_true());
                (*section)++;
            }
        }
    }
    json_decref(seen);
    /* tshark exits non-zero on a damaged capture after printing what it
     * read; the tables are still its answer. */
    pclose(p);
    return section != NULL ? 0 : -1;
}

long long e2e_stat(const char *eve_path, const char *section, const char *key)
{
    json_t *stats = e2e_read_events(eve_path, "stats");
    size_t n = json_array_size(stats);
    long long v = 0;

    if (n > 0) {
        json_t *s = json_object_get(json_object_get(json_array_get(stats, n - 1), "stats"), section);
        v = json_integer_value(json_object_get(s, key));
    }
    json_decref(stats);
    return v;
}

json_t *e2e_ndpi_captures(void)
{
    static const char *const decodable[] = { "ether", "rawip", "rawip4", "linux-sll", "null" };
    json_error_t jerr;
    json_t *manifest = json_load_file(e2e_data_path("manifest.json"), 0, &jerr);
    json_t *out = json_array();
    size_t i;
    json_t *rec;

    json_array_foreach(manifest, i, rec) {
        const char *path = json_string_value(json_object_get(rec, "path"));
        const char *link = json_string_value(json_object_get(rec, "link_type"));
        if (path == NULL || link == NULL || strncmp(path, "pcaps/ndpi/", 11) != 0)
            continue;
        for (size_t k = 0; k < sizeof(decodable) / sizeof(decodable[0]); k++)
            if (strcmp(link, decodable[k]) == 0)
                json_array_append_new(out, json_string(path));
    }
    json_decref(manifest);
    return out;
}

bool e2e_file_has(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t cap = 0;
    bool found = false;

    /* whole lines: a message is matched within its line */
    while (f != NULL && !found && getline(&buf, &cap, f) > 0)
        found = strstr(buf, text) != NULL;
    free(buf);
    if (f != NULL)
        fclose(f);
    if (!found)
        fprintf(stderr, "e2e: %s does not contain: %s\n", path, text);
    return found;
}
