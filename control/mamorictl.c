/* mamorictl.c - talk to a running mamori through its control socket.
 *
 * One request, one reply (CONTROL.md has the protocol): the command words
 * and arguments on the command line become {"command":..., "arguments":
 * {...}}, and the reply is printed readably (a tree, or a table for
 * detectors and top talkers) or as it came with --json. A NOK reply goes to
 * stderr with exit status 1. "alerts tail" prints alerts until interrupted. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "mamori_version.h"

#define DEFAULT_SOCKET "/run/mamori/mamori.sock"   /* CTL_DEFAULT_SOCKET */
#define DEFAULT_TIMEOUT 10

enum print_style { PRINT_TREE, PRINT_DETECTORS, PRINT_HELP, PRINT_TALKERS, PRINT_DETECTOR };

/* A command mamorictl knows: its words, and the names its positional
 * arguments take in "arguments". rest: the last name takes every remaining
 * word, as a list. Commands it does not know are sent as they are typed
 * (the sensor may know them). */
static const struct cli_command {
    const char *name;
    const char *args[3];
    unsigned min_args, max_args;
    bool rest;
    enum print_style style;
    const char *usage;
} cli_commands[] = {
    { "stats", { NULL }, 0, 0, false, PRINT_TREE, "stats" },
    { "version", { NULL }, 0, 0, false, PRINT_TREE, "version" },
    { "shutdown", { NULL }, 0, 0, false, PRINT_TREE, "shutdown" },
    { "help", { NULL }, 0, 0, false, PRINT_HELP, "help" },
    { "rules stats", { NULL }, 0, 0, false, PRINT_TREE, "rules stats" },
    { "rules reload", { "files" }, 0, 1, true, PRINT_TREE, "rules reload [FILE ...]" },
    { "detectors", { NULL }, 0, 0, false, PRINT_DETECTORS, "detectors" },
    { "detector get", { "name", "key" }, 1, 2, false, PRINT_DETECTOR, "detector get NAME [KEY]" },
    { "detector set", { "name", "key", "value" }, 3, 3, false, PRINT_TREE,
      "detector set NAME KEY VALUE" },
    { "top talkers", { "n" }, 0, 1, false, PRINT_TALKERS, "top talkers [N]" },
    { "alerts tail", { NULL }, 0, 0, false, PRINT_TREE, "alerts tail" },
    { "log reopen", { NULL }, 0, 0, false, PRINT_TREE, "log reopen" },
};

static void usage(FILE *out)
{
    fprintf(out,
"Usage: mamorictl [-s SOCKET] [--json] [-t SECONDS] COMMAND [ARGS...]\n"
"\n"
"Send one command to a running mamori over its control socket and print the\n"
"reply. Errors go to stderr with exit status 1 (2 for a bad command line).\n"
"\n"
"Commands:\n"
"  stats                        every counter of the sensor, as a tree\n"
"  version                      versions, capture, workers, uptime\n"
"  rules stats                  rules loaded, skipped (by keyword), failed;\n"
"                               compile time, databases and their size\n"
"  rules reload [FILE ...]      reload the rules live (the running set's files by default)\n"
"  detectors                    each statistical detector and its settings\n"
"  detector get NAME [KEY]      one detector, or one of its settings\n"
"  detector set NAME KEY VALUE  change a setting; applies from the next tick\n"
"  top talkers [N]              the N (10) heaviest sources of the attacks\n"
"                               the detectors follow now\n"
"  alerts tail                  print alerts as they are logged, until\n"
"                               interrupted (Ctrl-C) or mamori stops\n"
"  log reopen                   reopen the EVE log (after logrotate)\n"
"  shutdown                     stop mamori cleanly\n"
"  help                         the commands the running sensor offers\n"
"Any other command is sent as typed, without arguments.\n"
"\n"
"Options:\n"
"  -s, --socket PATH   the control socket (default " DEFAULT_SOCKET ";\n"
"                      mamori --control-socket sets it)\n"
"  -j, --json          print the JSON reply as received, one line; with\n"
"                      alerts tail, the EVE JSON lines\n"
"  -t, --timeout S     seconds to wait for a reply (default %d)\n"
"  -h, --help          show this help and exit\n"
"  -V, --version       show mamorictl's version and exit\n",
        DEFAULT_TIMEOUT);
}

/* ---- the connection ------------------------------------------------------- */

struct conn {
    int fd;
    char *buf;
    size_t len, cap;
};

static int conn_open(struct conn *c, const char *path, unsigned timeout)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "mamorictl: socket path too long: %s\n", path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fprintf(stderr, "mamorictl: cannot connect to %s: %s (is mamori running with this "
                "--control-socket?)\n", path, strerror(errno));
        return -1;
    }
    struct timeval tv = { .tv_sec = timeout };
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return 0;
}

static int conn_send(struct conn *c, const char *line)
{
    size_t len = strlen(line), off = 0;

    while (off < len) {
        ssize_t n = send(c->fd, line + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "mamorictl: sending the request: %s\n", strerror(errno));
            return -1;
        }
        off += (size_t)n;
    }
    return 0;
}

/* The next line (without '\n') in a buffer owned by c, or NULL at the end
 * of the stream (*eof) or on an error (message printed). */
static char *conn_line(struct conn *c, bool *eof)
{
    static size_t consumed;          /* bytes of the previous line to drop */

    *eof = false;
    if (consumed > 0)                /* c->buf is NULL before the first read */
        memmove(c->buf, c->buf + consumed, c->len - consumed);
    c->len -= consumed;
    consumed = 0;
    for (;;) {
        char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
        if (nl != NULL) {
            *nl = '\0';
            consumed = (size_t)(nl - c->buf) + 1;
            return c->buf;
        }
        if (c->len + 4096 > c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 65536;
            char *b = realloc(c->buf, cap);
            if (b == NULL) {
                fprintf(stderr, "mamorictl: out of memory\n");
                return NULL;
            }
            c->buf = b;
            c->cap = cap;
        }
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
        if (n > 0) {
            c->len += (size_t)n;
        } else if (n == 0) {
            *eof = true;
            return NULL;
        } else if (errno != EINTR) {
            fprintf(stderr, "mamorictl: reading the reply: %s\n",
                    errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : strerror(errno));
            return NULL;
        }
    }
}

/* ---- readable output ------------------------------------------------------ */

static void print_scalar(FILE *f, json_t *v)
{
    if (json_is_string(v))
        fputs(json_string_value(v), f);
    else if (json_is_integer(v))
        fprintf(f, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        fprintf(f, "%.6g", json_real_value(v));
    else if (json_is_true(v))
        fputs("true", f);
    else if (json_is_false(v))
        fputs("false", f);
    else
        fputs("-", f);
}

static bool is_scalar_list(json_t *v)
{
    size_t i;
    json_t *e;

    json_array_foreach(v, i, e)
        if (json_is_object(e) || json_is_array(e))
            return false;
    return true;
}

/* Objects as "key: value" lines, nested ones indented; lists of scalars on
 * one line, lists of objects as "-" items. */
static void print_tree(json_t *v, int indent)
{
    const char *key;
    json_t *e;
    size_t i;

    if (json_is_object(v)) {
        json_object_foreach(v, key, e) {
            if (json_is_object(e) && json_object_size(e) > 0) {
                printf("%*s%s:\n", indent, "", key);
                print_tree(e, indent + 2);
            } else if (json_is_array(e) && !is_scalar_list(e)) {
                printf("%*s%s:\n", indent, "", key);
                print_tree(e, indent + 2);
            } else if (json_is_array(e) || json_is_object(e)) {
                json_t *x;
                printf("%*s%s: ", indent, "", key);
                if (json_array_size(e) == 0)         /* also an empty object */
                    fputs("(none)", stdout);
                json_array_foreach(e, i, x) {
                    if (i)
                        fputs(", ", stdout);
                    print_scalar(stdout, x);
                }
                putchar('\n');
            } else {
                printf("%*s%s: ", indent, "", key);
                print_scalar(stdout, e);
                putchar('\n');
            }
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, e) {
            if (json_is_object(e) || json_is_array(e)) {
                printf("%*s-\n", indent, "");
                print_tree(e, indent + 2);
            } else {
                printf("%*s- ", indent, "");
                print_scalar(stdout, e);
                putchar('\n');
            }
        }
    } else {
        printf("%*s", indent, "");
        print_scalar(stdout, v);
        putchar('\n');
    }
}

static void print_help(json_t *list)
{
    size_t i;
    json_t *e;

    json_array_foreach(list, i, e)
        printf("  %-16s %s\n", json_string_value(json_object_get(e, "command")),
               json_string_value(json_object_get(e, "help")));
}

/* "pps=1000 bps=0 z=6" */
static void print_settings(json_t *settings, bool skip_enabled)
{
    const char *key;
    json_t *v;
    bool first = true;

    json_object_foreach(settings, key, v) {
        if (skip_enabled && strcmp(key, "enabled") == 0)
            continue;
        printf("%s%s=", first ? "" : " ", key);
        print_scalar(stdout, v);
        first = false;
    }
}

static void print_detectors(json_t *msg)
{
    json_t *list = json_object_get(msg, "detectors"), *d, *groups;
    size_t i;

    printf("%-18s %-3s %s\n", "DETECTOR", "ON", "SETTINGS");
    json_array_foreach(list, i, d) {
        printf("%-18s %-3s ", json_string_value(json_object_get(d, "name")),
               json_is_true(json_object_get(d, "enabled")) ? "yes" : "no");
        print_settings(json_object_get(d, "settings"), true);
        const char *note = json_string_value(json_object_get(d, "note"));
        if (note)
            printf("  (%s)", note);
        putchar('\n');
    }
    groups = json_object_get(msg, "host_groups");
    if (json_array_size(groups) > 0) {
        printf("host groups with their own thresholds (not shown): ");
        json_array_foreach(groups, i, d)
            printf("%s%s", i ? ", " : "", json_string_value(d));
        putchar('\n');
    }
}

static void print_detector(json_t *msg)
{
    json_t *settings = json_object_get(msg, "settings");

    if (settings == NULL) {                  /* one setting */
        print_tree(msg, 0);
        return;
    }
    printf("%s (sid %lld): ", json_string_value(json_object_get(msg, "name")),
           (long long)json_integer_value(json_object_get(msg, "sid")));
    print_settings(settings, false);
    putchar('\n');
}

static void print_talkers(json_t *msg)
{
    json_t *talkers = json_object_get(msg, "talkers"), *t, *attacks, *d;
    size_t i, k;

    printf("source: %s\n", json_string_value(json_object_get(msg, "source")));
    if (json_array_size(talkers) == 0) {
        printf("no active attacks\n");
        return;
    }
    printf("%-40s %12s %8s  %s\n", "SOURCE", "COUNT", "ATTACKS", "DETECTORS");
    json_array_foreach(talkers, i, t) {
        printf("%-40s %12lld %8lld  ", json_string_value(json_object_get(t, "src_ip")),
               (long long)json_integer_value(json_object_get(t, "count")),
               (long long)json_integer_value(json_object_get(t, "attacks")));
        json_array_foreach(json_object_get(t, "detectors"), k, d)
            printf("%s%s", k ? "," : "", json_string_value(d));
        putchar('\n');
    }
    attacks = json_object_get(msg, "attacks");
    printf("\n%-18s %-40s %14s %16s  %s\n", "ATTACK", "VICTIM", "PPS", "BPS", "SINCE");
    json_array_foreach(attacks, i, t) {
        json_t *victim = json_object_get(t, "victim");
        printf("%-18s %-40s %14.0f %16.0f  %s\n",
               json_string_value(json_object_get(t, "detector")),
               json_is_string(victim) ? json_string_value(victim) : "-",
               json_number_value(json_object_get(t, "pps")),
               json_number_value(json_object_get(t, "bps")),
               json_string_value(json_object_get(t, "since")));
    }
}

static void print_reply(enum print_style style, json_t *msg)
{
    if (msg == NULL)
        return;
    if (json_is_string(msg)) {
        printf("%s\n", json_string_value(msg));
        return;
    }
    switch (style) {
    case PRINT_DETECTORS: print_detectors(msg); break;
    case PRINT_DETECTOR: print_detector(msg); break;
    case PRINT_HELP: print_help(msg); break;
    case PRINT_TALKERS: print_talkers(msg); break;
    case PRINT_TREE:
    default: print_tree(msg, 0); break;
    }
}

/* ---- alerts tail ---------------------------------------------------------- */

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* An alert the way Suricata's fast.log writes it. */
static void print_alert_line(json_t *ev)
{
    json_t *a = json_object_get(ev, "alert");
    json_t *sp = json_object_get(ev, "src_port"), *dp = json_object_get(ev, "dest_port");

    printf("%s  [**] [%lld:%lld:%lld] %s [**] [Classification: %s] [Priority: %lld] {%s} %s",
           str(ev, "timestamp"), (long long)json_integer_value(json_object_get(a, "gid")),
           (long long)json_integer_value(json_object_get(a, "signature_id")),
           (long long)json_integer_value(json_object_get(a, "rev")), str(a, "signature"),
           str(a, "category"), (long long)json_integer_value(json_object_get(a, "severity")),
           str(ev, "proto"), str(ev, "src_ip"));
    if (sp)
        printf(":%lld", (long long)json_integer_value(sp));
    printf(" -> %s", str(ev, "dest_ip"));
    if (dp)
        printf(":%lld", (long long)json_integer_value(dp));
    putchar('\n');
}

/* Lines until the stream ends. 0 when the sensor ended it, 1 on error. */
static int tail(struct conn *c, bool raw)
{
    struct timeval none = { 0 };
    bool eof;
    char *line;

    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
    setvbuf(stdout, NULL, _IOLBF, 0);
    while ((line = conn_line(c, &eof)) != NULL) {
        json_t *ev = json_loads(line, 0, NULL);
        const char *type = json_string_value(json_object_get(ev, "event_type"));
        if (raw) {
            printf("%s\n", line);
        } else if (type && strcmp(type, "alert") == 0) {
            print_alert_line(ev);
        } else if (type && strcmp(type, "lost") == 0) {
            fprintf(stderr, "mamorictl: %lld alerts lost: this client read too slowly\n",
                    (long long)json_integer_value(json_object_get(ev, "lost")));
        } else if (type && strcmp(type, "end") == 0) {
            fprintf(stderr, "mamorictl: mamori ended the stream (%lld alerts lost in all)\n",
                    (long long)json_integer_value(json_object_get(ev, "lost")));
        }
        json_decref(ev);
    }
    return eof ? 0 : 1;
}

/* ---- the request ------------------------------------------------------------ */

/* The known command that the words start with (the longest), or NULL. */
static const struct cli_command *match_command(int argc, char **argv, int *used)
{
    const struct cli_command *best = NULL;

    for (size_t i = 0; i < sizeof(cli_commands) / sizeof(cli_commands[0]); i++) {
        const char *name = cli_commands[i].name;
        const char *space = strchr(name, ' ');
        int words = space ? 2 : 1;
        if (argc < words)
            continue;
        if (space ? (strlen(argv[0]) == (size_t)(space - name) &&
                     strncmp(argv[0], name, (size_t)(space - name)) == 0 &&
                     strcmp(argv[1], space + 1) == 0)
                  : strcmp(argv[0], name) == 0) {
            if (best == NULL || words > *used) {
                best = &cli_commands[i];
                *used = words;
            }
        }
    }
    return best;
}

static json_t *build_request(int argc, char **argv, const struct cli_command **cmd)
{
    int used = 0;
    json_t *req = json_object();

    *cmd = match_command(argc, argv, &used);
    if (*cmd == NULL) {
        /* Unknown here: send the words as the command; the sensor answers. */
        size_t len = 1;
        for (int i = 0; i < argc; i++)
            len += strlen(argv[i]) + 1;
        char *name = calloc(1, len);
        for (int i = 0; i < argc; i++) {
            if (i)
                strcat(name, " ");
            strcat(name, argv[i]);
        }
        json_object_set_new(req, "command", json_string(name));
        free(name);
        return req;
    }
    const struct cli_command *c = *cmd;
    unsigned n = (unsigned)(argc - used);
    if (n < c->min_args || (!c->rest && n > c->max_args)) {
        fprintf(stderr, "mamorictl: usage: mamorictl %s\n", c->usage);
        json_decref(req);
        return NULL;
    }
    json_object_set_new(req, "command", json_string(c->name));
    if (n > 0) {
        json_t *args = json_object();
        for (unsigned i = 0; i < n && (c->rest || i < c->max_args); i++) {
            if (c->rest && c->args[i + 1] == NULL) {
                json_t *list = json_array();
                for (unsigned k = i; k < n; k++)
                    json_array_append_new(list, json_string(argv[used + k]));
                json_object_set_new(args, c->args[i], list);
                break;
            }
            json_object_set_new(args, c->args[i], json_string(argv[used + i]));
        }
        json_object_set_new(req, "arguments", args);
    }
    return req;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "socket", required_argument, NULL, 's' },
        { "json", no_argument, NULL, 'j' },
        { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *path = DEFAULT_SOCKET;
    bool raw = false;
    unsigned timeout = DEFAULT_TIMEOUT;
    int opt;

    /* "+": options end at the command, so "detector set x z -1" works. */
    while ((opt = getopt_long(argc, argv, "+s:jt:hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 's': path = optarg; break;
        case 'j': raw = true; break;
        case 't': {
            char *end;
            long t = strtol(optarg, &end, 10);
            if (*end != '\0' || t < 1 || t > 86400) {
                fprintf(stderr, "mamorictl: -t: '%s' is not a number of seconds (1..86400)\n",
                        optarg);
                return 2;
            }
            timeout = (unsigned)t;
            break;
        }
        case 'h': usage(stdout); return 0;
        case 'V': printf("mamorictl %s\n", MAMORI_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "mamorictl: no command (see --help)\n");
        return 2;
    }

    const struct cli_command *cmd;
    json_t *req = build_request(argc - optind, argv + optind, &cmd);
    if (req == NULL)
        return 2;
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    size_t len = strlen(text);
    text = realloc(text, len + 2);
    memcpy(text + len, "\n", 2);

    struct conn c = { .fd = -1 };
    int status = 1;
    bool eof;
    char *line;
    if (conn_open(&c, path, timeout) < 0 || conn_send(&c, text) < 0)
        goto out;
    if ((line = conn_line(&c, &eof)) == NULL) {
        if (eof)
            fprintf(stderr, "mamorictl: %s closed the connection without a reply\n", path);
        goto out;
    }
    json_error_t jerr;
    json_t *reply = json_loads(line, 0, &jerr);
    const char *ret = json_string_value(json_object_get(reply, "return"));
    json_t *msg = json_object_get(reply, "message");
    if (ret == NULL) {
        fprintf(stderr, "mamorictl: not a reply: %s\n", line);
    } else if (strcmp(ret, "OK") != 0) {
        if (raw)
            printf("%s\n", line);
        fprintf(stderr, "mamorictl: %s\n", json_is_string(msg) ? json_string_value(msg) : line);
    } else {
        if (raw)
            printf("%s\n", line);
        else if (cmd == NULL || strcmp(cmd->name, "alerts tail") != 0)
            print_reply(cmd ? cmd->style : PRINT_TREE, msg);
        status = 0;
        if (cmd != NULL && strcmp(cmd->name, "alerts tail") == 0) {
            fflush(stdout);
            status = tail(&c, raw);
        }
    }
    json_decref(reply);
out:
    if (c.fd >= 0)
        close(c.fd);
    free(c.buf);
    free(text);
    return status;
}
