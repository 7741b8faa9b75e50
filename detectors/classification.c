/* classification.c - parsing classification.config. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "classification.h"


void classifications_init(struct classifications *c)
{
    memset(c, 0, sizeof(*c));
}

void classifications_free(struct classifications *c)
{
    for (uint32_t i = 0; i < c->n; i++) {
        free(c->v[i].name);
        free(c->v[i].description);
    }
    free(c->v);
    memset(c, 0, sizeof(*c));
}

const struct classification *classifications_find(const struct classifications *c,
                                                  const char *name)
{
    if (c == NULL || name == NULL)
        return NULL;
    for (uint32_t i = 0; i < c->n; i++)
        if (strcasecmp(c->v[i].name, name) == 0)
            return &c->v[i];
    return NULL;
}

/* Copy s[0..len) without surrounding blanks; NULL when out of memory. */
static char *trimmed_copy(const char *s, size_t len)
{
    while (len > 0 && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    return strndup(s, len);
}

static bool valid_name(const char *s)
{
    if (*s == '\0' || strlen(s) > CLASSIFICATION_NAME_MAX)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return false;
    return true;
}

static int parse_priority(const char *s, uint8_t *out)
{
    char *end;
    while (isspace((unsigned char)*s))
        s++;
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (errno != 0 || *end != '\0' || v < 1 || v > 255)
        return -1;
    *out = (uint8_t)v;
    return 0;
}

static int add(struct classifications *c, char *name, char *desc, uint8_t prio,
               char *err, size_t errlen)
{
    for (char *p = name; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    for (uint32_t i = 0; i < c->n; i++) {
        if (strcmp(c->v[i].name, name) == 0) {       /* later definition wins */
            free(c->v[i].description);
            c->v[i].description = desc;
            c->v[i].priority = prio;
            free(name);
            return 0;
        }
    }
    if (c->n == CLASSIFICATIONS_MAX) {
        seterr(err, errlen, "more than %d classifications", CLASSIFICATIONS_MAX);
        goto fail;
    }
    if (c->n == c->cap) {
        uint32_t cap = c->cap ? c->cap * 2 : 64;
        struct classification *nv = realloc(c->v, cap * sizeof(*nv));
        if (nv == NULL) {
            seterr(err, errlen, "out of memory");
            goto fail;
        }
        c->v = nv;
        c->cap = cap;
    }
    c->v[c->n++] = (struct classification){ name, desc, prio };
    return 0;
fail:
    free(name);
    free(desc);
    return -1;
}

int classifications_parse_line(struct classifications *c, const char *line,
                               char *err, size_t errlen)
{
    const char *s = line;
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '\0' || *s == '#')
        return 0;
    static const char kw[] = "config classification";
    if (strncasecmp(s, kw, sizeof(kw) - 1) != 0) {
        seterr(err, errlen, "expected 'config classification: name,description,priority'");
        return -1;
    }
    s += sizeof(kw) - 1;
    while (isspace((unsigned char)*s))
        s++;
    if (*s != ':') {
        seterr(err, errlen, "expected ':' after 'config classification'");
        return -1;
    }
    s++;
    /* name up to the first comma, priority after the last one: the
     * description between may itself contain commas. */
    const char *c1 = strchr(s, ',');
    const char *c2 = strrchr(s, ',');
    if (c1 == NULL || c1 == c2) {
        seterr(err, errlen, "expected 'name,description,priority'");
        return -1;
    }
    uint8_t prio;
    if (parse_priority(c2 + 1, &prio) != 0) {
        seterr(err, errlen, "priority must be a number from 1 to 255");
        return -1;
    }
    char *name = trimmed_copy(s, (size_t)(c1 - s));
    char *desc = trimmed_copy(c1 + 1, (size_t)(c2 - c1 - 1));
    if (name == NULL || desc == NULL) {
        free(name);
        free(desc);
        seterr(err, errlen, "out of memory");
        return -1;
    }
    if (!valid_name(name)) {
        seterr(err, errlen, "invalid classtype name '%.64s'", name);
        free(name);
        free(desc);
        return -1;
    }
    return add(c, name, desc, prio, err, errlen);
}

int classifications_load_file(struct classifications *c, const char *path,
                              char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[CLASSIFICATION_LINE_MAX + 2];
    char why[256];
    unsigned lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        size_t len = strlen(line);
        if (len > CLASSIFICATION_LINE_MAX && line[len - 1] != '\n') {
            seterr(err, errlen, "%s:%u: line longer than %d bytes", path, lineno,
                   CLASSIFICATION_LINE_MAX);
            rc = -1;
            break;
        }
        if (classifications_parse_line(c, line, why, sizeof(why)) != 0) {
            seterr(err, errlen, "%s:%u: %s", path, lineno, why);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        seterr(err, errlen, "%s: read error", path);
        rc = -1;
    }
    fclose(f);
    return rc;
}
