/* classification.h - classification.config: classtype -> description and
 * default priority.
 *
 * Lines look like
 *     config classification: trojan-activity,A Network Trojan was detected, 1
 * Blank lines and '#' comments are ignored. Names are matched without regard
 * to case (Suricata lower-cases them). A name defined twice keeps the later
 * definition, so a site file loaded after the shipped one overrides it.
 * mamori ships detectors/classification.config with Suricata's standard set. */
#ifndef MAMORI_CLASSIFICATION_H
#define MAMORI_CLASSIFICATION_H

#include <stddef.h>
#include <stdint.h>

#define CLASSIFICATIONS_MAX     1024
#define CLASSIFICATION_NAME_MAX 64
#define CLASSIFICATION_LINE_MAX 4096

struct classification {
    char *name;
    char *description;
    uint8_t priority;          /* 1 (highest) .. 255 */
};

struct classifications {
    struct classification *v;
    uint32_t n, cap;
};

void classifications_init(struct classifications *c);
void classifications_free(struct classifications *c);

/* One line of the file. Returns 0 (a definition, a comment or blank), or -1
 * with `err` set. */
int classifications_parse_line(struct classifications *c, const char *line,
                               char *err, size_t errlen);

/* Every line of `path`; stops at the first bad line. Returns 0, or -1 with
 * "path:line: reason" (or the I/O error) in `err`. */
int classifications_load_file(struct classifications *c, const char *path,
                              char *err, size_t errlen);

/* The classtype NAME (any case), or NULL. */
const struct classification *classifications_find(const struct classifications *c,
                                                  const char *name);

#endif
