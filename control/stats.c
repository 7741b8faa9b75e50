/* stats.c - summing named counters into a nested JSON object. */
#include <stdio.h>
#include <string.h>

#include "stats.h"

#define SECTION_MAX 64

/* Split "a.b.c" into section "a" and key "b.c"; a name without a dot lands
 * in section "sensor". */
static const char *split_name(const char *name, char section[SECTION_MAX])
{
    const char *dot = strchr(name, '.');

    if (dot == NULL || (size_t)(dot - name) >= SECTION_MAX) {
        snprintf(section, SECTION_MAX, "sensor");
        return name;
    }
    memcpy(section, name, (size_t)(dot - name));
    section[dot - name] = '\0';
    return dot + 1;
}

json_t *stats_new(void)
{
    return json_object();
}

void stats_add(json_t *stats, const char *name, uint64_t value)
{
    char section_name[SECTION_MAX];
    const char *key = split_name(name, section_name);
    json_t *section = json_object_get(stats, section_name);

    if (section == NULL) {
        section = json_object();
        json_object_set_new(stats, section_name, section);
    }
    json_t *old = json_object_get(section, key);
    uint64_t sum = value + (old ? (uint64_t)json_integer_value(old) : 0);
    json_object_set_new(section, key, json_integer((json_int_t)sum));
}

uint64_t stats_get(json_t *stats, const char *name)
{
    char section_name[SECTION_MAX];
    const char *key = split_name(name, section_name);
    json_t *v = json_object_get(json_object_get(stats, section_name), key);

    return v ? (uint64_t)json_integer_value(v) : 0;
}
