/* vars.h - address and port variables ($HOME_NET, $HTTP_PORTS, ...) and the
 * resolution of rule header groups into flat range sets.
 *
 * A variable table starts with Suricata's suricata.yaml defaults (plus the
 * few more the shipped rule sets use, see vars.c) and takes overrides. Values
 * are kept as text and resolved when a rule uses them, so an override may
 * refer to a variable defined later; rule_vars_check() resolves every one
 * up front to report bad values once rather than on every rule.
 *
 * Group grammar (Suricata's):
 *   group := '!' group | '[' group (',' group)* ']' | '$'NAME | 'any' | leaf
 *   address leaf: 1.2.3.4, 1.2.3.0/24, 1.2.3.0/255.255.255.0, 1.2.3.4-1.2.3.9,
 *                 IPv6 in the same forms (2001:db8::/32)
 *   port leaf:    80, 1024:65535, 1024:, :1023
 * A list is the union of its positive members minus the union of its negated
 * ones; a list with no positive member starts from `any`. Nesting of lists
 * and variables is limited to RULE_GROUP_DEPTH_MAX; a variable that refers
 * back to itself is reported as a cycle with its path. A group that matches
 * nothing (!any, [1.2.3.4,!1.2.3.4]) is an error, as in Suricata. */
#ifndef MAMORI_VARS_H
#define MAMORI_VARS_H

#include <stddef.h>

#include "rule.h"

enum rule_var_kind { RULE_VAR_ADDRESS, RULE_VAR_PORT };

#define RULE_VARS_MAX       1024
#define RULE_VAR_NAME_MAX   64
#define RULE_VAR_VALUE_MAX  (64u * 1024)

struct rule_vars;

/* A table holding the defaults / nothing. NULL when out of memory. */
struct rule_vars *rule_vars_new(void);
struct rule_vars *rule_vars_new_empty(void);
void rule_vars_free(struct rule_vars *v);

/* Define or override NAME (without '$'). Returns 0, or -1 with `err` set
 * (bad name, value too long, too many variables, out of memory). */
int rule_vars_set(struct rule_vars *v, enum rule_var_kind kind, const char *name,
                  const char *value, char *err, size_t errlen);

/* "NAME=VALUE" (the command line's form; a leading '$' is allowed). The kind
 * is the existing variable's, else PORT when NAME ends in _PORTS or _PORT,
 * else ADDRESS. */
int rule_vars_assign(struct rule_vars *v, const char *assignment, char *err, size_t errlen);

/* The value text of NAME of that kind, or NULL. */
const char *rule_vars_get(const struct rule_vars *v, enum rule_var_kind kind, const char *name);

/* The i-th variable in definition order (defaults first, then new ones;
 * an override keeps its place), or NULL past the end: its name, with its
 * kind and value text in *kind and *value. For listing every variable
 * (mamori --dump-config). */
const char *rule_vars_at(const struct rule_vars *v, unsigned i, enum rule_var_kind *kind,
                         const char **value);

/* Resolve every variable; returns 0, or -1 with the first problem in `err`
 * ("$EXTERNAL_NET: variable cycle: $EXTERNAL_NET -> $HOME_NET -> $EXTERNAL_NET"). */
int rule_vars_check(const struct rule_vars *v, char *err, size_t errlen);

/* Resolve a header address or port group. `v` may be NULL (no variables).
 * On success `out` owns its arrays (rule_addrs_free / rule_ports_free); on
 * failure it is left empty and `err` says why. */
int rule_addrs_parse(const char *text, const struct rule_vars *v, struct rule_addrs *out,
                     char *err, size_t errlen);
int rule_ports_parse(const char *text, const struct rule_vars *v, struct rule_ports *out,
                     char *err, size_t errlen);

#endif
