/* metrics.c - the Prometheus /metrics endpoint (libmicrohttpd) and the
 * rendering of sensor_stats() into the text exposition format. */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "export_int.h"
#include "metrics.h"

#define METRICS_DEFAULT_HOST "127.0.0.1"
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Gauges: values that go up and down (what is held, in use or configured
 * now). Everything else in the stats only grows and is a counter. Keys are
 * "section.key" with any per-port/worker/sink label taken out. */
static const char *const gauge_names[] = {
    "sensor.uptime", "flow.active", "flow.capacity", "flow.memory_bytes",
    "stream.ooo_bytes", "stream.slots_in_use", "stream.memory_bytes",
    "threshold.entries", "anomaly.tracked", "anomaly.attacks_active", "anomaly.memory_bytes",
    "detect.rules_loaded", "detect.rules_skipped", "detect.rules_failed", "detect.databases",
    "detect.database_bytes", "detect.compile_ms", "export.buffered", "ctl.clients",
    "rulegroup.rules", "rulegroup.databases", "rulegroup.always",
};

/* Key endings that make a gauge too, for counters added after this table. */
static const char *const gauge_suffixes[] = {
    "active", "capacity", "memory_bytes", "in_use", "entries", "buffered", "clients",
};

/* Sections whose keys are "LABEL.counter": one counter per port (DPDK),
 * interface (AF_XDP), worker or export sink. */
static const struct { const char *section, *label; } labelled_sections[] = {
    { "port", "port" }, { "iface", "iface" }, { "worker", "worker" }, { "export", "sink" },
    { "queue", "queue" }, { "detector", "detector" }, { "workers", "worker" },
    { "rulegroup", "group" },
};

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Whether one '_'-separated word of key names a statistic of a sample
 * (burst_max_us, burst_p99_us): a level, not a count. */
static bool has_statistic_word(const char *key)
{
    char copy[128], *save = NULL;

    snprintf(copy, sizeof(copy), "%s", key);
    for (char *w = strtok_r(copy, "_", &save); w; w = strtok_r(NULL, "_", &save)) {
        if (strcmp(w, "max") == 0 || strcmp(w, "min") == 0 || strcmp(w, "mean") == 0 ||
            strcmp(w, "avg") == 0)
            return true;
        if (w[0] == 'p' && w[1] >= '0' && w[1] <= '9' && strspn(w + 1, "0123456789") == strlen(w + 1))
            return true;
    }
    return false;
}

static bool is_gauge(const char *section, const char *key)
{
    char name[256];

    snprintf(name, sizeof(name), "%s.%s", section, key);
    for (size_t i = 0; i < sizeof(gauge_names) / sizeof(gauge_names[0]); i++)
        if (strcmp(name, gauge_names[i]) == 0)
            return true;
    for (size_t i = 0; i < sizeof(gauge_suffixes) / sizeof(gauge_suffixes[0]); i++)
        if (ends_with(key, gauge_suffixes[i]))
            return true;
    return has_statistic_word(key);
}

/* Time units Prometheus wants as seconds (and no abbreviations). */
static const struct { const char *suffix; double per_second; } time_units[] = {
    { "_ms", 1e3 }, { "_us", 1e6 }, { "_ns", 1e9 },
};

static const char *section_label(const char *section)
{
    for (size_t i = 0; i < sizeof(labelled_sections) / sizeof(labelled_sections[0]); i++)
        if (strcmp(section, labelled_sections[i].section) == 0)
            return labelled_sections[i].label;
    return NULL;
}

/* One sample before grouping: families must be contiguous in the output. */
struct sample {
    char family[200];
    char help[300];
    const char *label;           /* NULL: none */
    char label_value[128];
    double value;
    bool gauge;
    size_t order;
};

/* Append the metric-name form of text: [a-zA-Z0-9_], others become '_'. */
static void name_append(char *out, size_t size, const char *text, size_t n)
{
    size_t len = strlen(out);

    for (size_t i = 0; i < n && len + 1 < size; i++) {
        char c = text[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        out[len++] = ok ? c : '_';
    }
    out[len] = '\0';
}

/* Append text, cut to what fits. */
static void text_append(char *out, size_t size, const char *text)
{
    size_t len = strlen(out);
    snprintf(out + len, size - len, "%s", text);
}

static double json_number(json_t *v, bool *ok)
{
    *ok = true;
    if (json_is_integer(v))
        return (double)(uint64_t)json_integer_value(v);
    if (json_is_real(v))
        return json_real_value(v);
    if (json_is_boolean(v))
        return json_is_true(v) ? 1 : 0;
    *ok = false;
    return 0;
}

/* section.key = v as a sample: label split off, unit made a base unit
 * (Prometheus wants seconds, and no abbreviations), type chosen. */
static bool make_sample(struct sample *sm, const char *section, const char *key, json_t *v)
{
    const char *label = section_label(section), *metric = key, *dot = strrchr(key, '.');
    bool ok;

    memset(sm, 0, sizeof(*sm));
    sm->value = json_number(v, &ok);
    if (!ok)
        return false;
    if (label != NULL && dot != NULL) {
        sm->label = label;
        snprintf(sm->label_value, sizeof(sm->label_value), "%.*s", (int)(dot - key), key);
        metric = dot + 1;
    }
    sm->gauge = is_gauge(section, metric);
    snprintf(sm->family, sizeof(sm->family), "mamori_");
    name_append(sm->family, sizeof(sm->family), section, strlen(section));
    text_append(sm->family, sizeof(sm->family), "_");
    size_t n = strlen(metric), unit = 0;
    for (size_t i = 0; i < sizeof(time_units) / sizeof(time_units[0]); i++) {
        if (ends_with(metric, time_units[i].suffix)) {
            unit = 3;
            sm->value /= time_units[i].per_second;
        }
    }
    name_append(sm->family, sizeof(sm->family), metric, n - unit);
    if (unit || (strcmp(section, "sensor") == 0 && strcmp(metric, "uptime") == 0))
        text_append(sm->family, sizeof(sm->family), "_seconds");
    if (!sm->gauge)
        text_append(sm->family, sizeof(sm->family), "_total");
    /* One help text per family: the stats name it comes from. */
    if (sm->label != NULL)
        snprintf(sm->help, sizeof(sm->help), "%s.<%s>.%s in mamori's EVE stats", section,
                 label, metric);
    else
        snprintf(sm->help, sizeof(sm->help), "%s.%s in mamori's EVE stats", section, metric);
    return true;
}

static int compare_samples(const void *a, const void *b)
{
    const struct sample *x = a, *y = b;
    int c = strcmp(x->family, y->family);
    return c != 0 ? c : (x->order > y->order) - (x->order < y->order);
}

/* Label values escape backslash, quote and newline. */
static void print_label_value(FILE *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fprintf(out, "\\%c", *v);
        else if (*v == '\n')
            fputs("\\n", out);
        else
            fputc(*v, out);
    }
}

static void print_sample(FILE *out, const struct sample *sm)
{
    fputs(sm->family, out);
    if (sm->label != NULL) {
        fprintf(out, "{%s=\"", sm->label);
        print_label_value(out, sm->label_value);
        fputs("\"}", out);
    }
    char num[32];
    if (sm->value == (double)(uint64_t)sm->value && sm->value < 1e19) {
        snprintf(num, sizeof(num), "%llu", (unsigned long long)sm->value);
    } else {
        /* The shortest text that reads back as the same double. */
        snprintf(num, sizeof(num), "%.15g", sm->value);
        if (strtod(num, NULL) != sm->value)
            snprintf(num, sizeof(num), "%.17g", sm->value);
    }
    fprintf(out, " %s\n", num);
}

static struct sample *collect_samples(json_t *stats, size_t *count)
{
    size_t n = 0, cap = 256;
    struct sample *all = malloc(cap * sizeof(*all));
    const char *section, *key;
    json_t *sec, *v;

    json_object_foreach(stats, section, sec) {
        json_object_foreach(sec, key, v) {
            if (all == NULL)
                return NULL;
            if (n == cap) {
                struct sample *more = realloc(all, (cap *= 2) * sizeof(*all));
                if (more == NULL) {
                    free(all);
                    return NULL;
                }
                all = more;
            }
            if (make_sample(&all[n], section, key, v)) {
                all[n].order = n;
                n++;
            }
        }
    }
    *count = n;
    return all;
}

char *metrics_render(json_t *stats, size_t *len)
{
    size_t n = 0;
    struct sample *all = collect_samples(stats, &n);
    char *text = NULL;
    FILE *out;

    if (all == NULL || (out = open_memstream(&text, len)) == NULL) {
        free(all);
        return NULL;
    }
    qsort(all, n, sizeof(*all), compare_samples);
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(all[i].family, all[i - 1].family) != 0) {
            fprintf(out, "# HELP %s %s\n", all[i].family, all[i].help);
            fprintf(out, "# TYPE %s %s\n", all[i].family, all[i].gauge ? "gauge" : "counter");
        }
        print_sample(out, &all[i]);
    }
    free(all);
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* The endpoint. */

struct metrics {
    struct MHD_Daemon *daemon;
    int listen_fd;
    pthread_mutex_t lock;
    char *page;                  /* the last rendering; NULL before the first */
    size_t page_len;
    uint64_t scrapes;
};

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status,
                               const char *type, char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result respond_text(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    char *body = strdup(msg);
    return body ? respond(conn, status, "text/plain; charset=utf-8", body, strlen(body)) : MHD_NO;
}

/* microhttpd's thread: copy the page out under the lock, nothing more. */
static enum MHD_Result handle_request(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **req_cls)
{
    struct metrics *m = cls;
    char *body = NULL;
    size_t len = 0;

    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)req_cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET /metrics\n");
    if (strcmp(url, "/metrics") != 0)
        return respond_text(conn, MHD_HTTP_NOT_FOUND, "not found: mamori serves /metrics\n");
    pthread_mutex_lock(&m->lock);
    if (m->page != NULL && (body = malloc(m->page_len + 1)) != NULL) {
        memcpy(body, m->page, m->page_len);
        len = m->page_len;
    }
    m->scrapes++;
    pthread_mutex_unlock(&m->lock);
    if (body == NULL)
        return respond_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no stats yet\n");
    return respond(conn, MHD_HTTP_OK, METRICS_CONTENT_TYPE, body, len);
}

/* Bind the listening socket ourselves: a failure then says why (address in
 * use, not local) instead of microhttpd's bare NULL. */
static int metrics_listen(const char *spec, char *err, size_t errlen)
{
    char host[256], port_text[8];
    unsigned port;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res;
    int fd, one = 1, rc;

    if (export_parse_hostport("--metrics", spec, METRICS_DEFAULT_HOST, host, sizeof(host),
                              &port, err, errlen) < 0)
        return -1;
    snprintf(port_text, sizeof(port_text), "%u", port);
    if ((rc = getaddrinfo(host, port_text, &hints, &res)) != 0) {
        snprintf(err, errlen, "--metrics: %s: %s", host, gai_strerror(rc));
        return -1;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 16) < 0) {
        snprintf(err, errlen, "--metrics: cannot listen on %s port %u: %s", host, port,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

struct metrics *metrics_start(const char *spec, char *err, size_t errlen)
{
    struct metrics *m = calloc(1, sizeof(*m));

    if (m == NULL) {
        snprintf(err, errlen, "--metrics: out of memory");
        return NULL;
    }
    if ((m->listen_fd = metrics_listen(spec, err, errlen)) < 0) {
        free(m);
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    m->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
                                 0, NULL, NULL, handle_request, m,
                                 MHD_OPTION_LISTEN_SOCKET, m->listen_fd,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)32,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                                 MHD_OPTION_END);
    if (m->daemon == NULL) {
        snprintf(err, errlen, "--metrics: the HTTP server (libmicrohttpd) did not start on %s",
                 spec);
        close(m->listen_fd);
        pthread_mutex_destroy(&m->lock);
        free(m);
        return NULL;
    }
    return m;
}

void metrics_publish(struct metrics *m, json_t *stats)
{
    size_t len = 0;
    char *page = metrics_render(stats, &len), *old;

    if (page == NULL)
        return;                  /* no memory: scrapes keep the last page */
    pthread_mutex_lock(&m->lock);
    old = m->page;
    m->page = page;
    m->page_len = len;
    pthread_mutex_unlock(&m->lock);
    free(old);
}

uint64_t metrics_scrapes(const struct metrics *m)
{
    struct metrics *mm = (struct metrics *)m;
    pthread_mutex_lock(&mm->lock);
    uint64_t n = mm->scrapes;
    pthread_mutex_unlock(&mm->lock);
    return n;
}

void metrics_stop(struct metrics *m)
{
    if (m == NULL)
        return;
    MHD_stop_daemon(m->daemon);
    close(m->listen_fd);
    pthread_mutex_destroy(&m->lock);
    free(m->page);
    free(m);
}
