/* engine.h - the matching engine: a ruleset compiled into Hyperscan
 * prefilter databases plus PCRE2 regexes, and the per-packet scan that
 * prefilters, verifies each candidate rule completely and reports matches.
 *
 * Build once (off the workers), then one scratch per worker. engine_scan()
 * takes no lock and calls no malloc (one exception: a pcre PCRE2 could not
 * JIT-compile gets its interpreter frames allocated once, then kept, in the
 * scratch); an engine is read-only after build and may be shared by any
 * number of workers, each with its own scratch. Payloads are matched as one
 * packet (block mode): no stream reassembly here.
 *
 * Grouping: rules are split by transport (tcp, udp, icmp, other IP) and, for
 * tcp/udp, by destination port: a rule whose destination ports are a small set
 * (<= ENGINE_PORT_GROUP_MAX ports, not <>) is port-listed, the rest go in the
 * protocol's "any" database. A packet is scanned once: with the "any"
 * database, or, when some rule lists its destination port, with the group's
 * second database, which holds the "any" patterns and every port-listed
 * rule's (a hit of a rule that does not list the port is dropped). Each
 * group has that pair of databases per address class - whether the
 * packet's source and destination lie in the ruleset's $HOME_NET - holding
 * only the rules whose addresses allow the class, so inbound packets skip
 * outbound rules (engine_int.h). The databases compile on threads
 * (engine_compile.h), which inherit the caller's CPU affinity. Rules
 * without a usable fast pattern (header-only, only negated contents) are
 * evaluated for every packet of their protocol(s); those with a specific
 * source or destination (IP reputation lists), or (tcp/udp) destination
 * ports, are looked up by address or port instead.
 *
 * Order (Suricata's): pass rules first - a matching pass rule ends the packet,
 * no alert fires; then rules that set flowbits before rules that check them;
 * then file order. Thresholds and detection_filter are the caller's. */
#ifndef MAMORI_ENGINE_H
#define MAMORI_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rule.h"
#include "rule_parser.h"

#define ENGINE_PORT_GROUP_MAX 32      /* max dst ports of a port-listed rule (see Grouping) */
#define ENGINE_FLOWBITS_MAX   1024    /* distinct flowbit names per engine (128 bytes a flow);
                                         a rule past it is dropped (ET Open uses 80) */
#define ENGINE_ERRORS_KEPT    100     /* drop messages kept (the rest only counted) */
#define ENGINE_PCRE_MATCH_LIMIT 3500  /* PCRE2 limits (Suricata's defaults); pcre 'O' lifts them */
#define ENGINE_PCRE_DEPTH_LIMIT 1500
#define ENGINE_JIT_STACK_MAX  (512 * 1024)  /* PCRE2 JIT stack per scratch */
#define ENGINE_INSPECT_LIMIT  3000    /* element inspections per rule and packet (backtracking) */

/* Per-flow flowbits: engine-assigned bit ids. Zero it when a flow starts.
 * Ids are only meaningful for the engine that assigned them: after a rule
 * reload, flows should start over from zero bits. */
struct engine_flowbits {
    uint64_t w[ENGINE_FLOWBITS_MAX / 64];
};

/* What stream inspection remembers of one flow direction: the rules whose
 * fast pattern was found in bytes that may still be in the window. A rule
 * whose fast pattern lies wholly in the window can still complete with the
 * new bytes (content "A"; content "B"; distance:0, with A before the
 * segment boundary and B after it); with a carry, those rules are taken
 * from here and only the boundary is scanned again, instead of the whole
 * window. Zero it when the flow direction starts, and whenever its rules
 * change (the ids are the engine's). */
#define ENGINE_CARRY_MAX 6
struct engine_carry {
    uint64_t delivered;          /* stream bytes scanned so far (a count, not a seq) */
    uint32_t rule[ENGINE_CARRY_MAX];
    uint32_t end[ENGINE_CARRY_MAX];  /* low 32 bits of `delivered` after the scan that
                                        found the rule: its pattern ends before that */
    uint8_t n;
    bool complete;               /* every rule found in the window is here; false (more
                                    than fit, or zeroed mid-stream): rescan the window */
};

/* What the engine needs to know of one packet. */
struct engine_packet {
    uint8_t ip_version;          /* 4 or 6 */
    uint8_t ip_proto;            /* IPPROTO_* of the innermost IP */
    uint8_t src_addr[16];        /* IPv4 in the first 4 bytes, network order */
    uint8_t dst_addr[16];
    uint16_t src_port, dst_port; /* host order; taken as 0 unless tcp/udp/sctp (Suricata) */
    uint8_t tcp_flags;
    uint8_t ttl;
    uint8_t icmp_type, icmp_code;
    const uint8_t *payload;      /* the bytes contents and pcre are matched against */
    uint32_t payload_len;
    /* TCP stream inspection: payload is the new in-order bytes of the flow
     * direction, and `window` the window_len bytes that came just before
     * them (dataplane/stream.h), held apart: the engine joins the two, at
     * join - window_len, only when a rule has to see them as one buffer.
     * `join` has window_len bytes of room before it and payload_len bytes
     * from it (it may be payload itself). Absolute positions (offset,
     * depth, startswith, byte_* and isdataat without relative, anchored
     * pcre) count from the new bytes, as they would in the packet; floating
     * contents and relative chains may reach back into the window, which is
     * how a match across segments is found. A rule matches only if its
     * match ends in the new bytes, so data already inspected never alerts
     * twice. dsize is the packet's own payload size. */
    bool stream;
    const uint8_t *window;
    uint32_t window_len;
    uint8_t *join;
    uint32_t dsize;              /* read only when stream */
    struct engine_carry *carry;  /* stream only: the direction's carry; NULL: the whole
                                    window is scanned again for every packet */
    bool to_server;              /* the flow's direction of this packet */
    bool established;            /* the flow has completed its handshake */
    struct engine_flowbits *flowbits;  /* the flow's bits; NULL = no flow (flow:to_server,
                                          established and every flowbits check fail) */
    bool ip_only_done;           /* not the flow direction's first packet: IP-only rules
                                    (addresses and protocol alone, as Suricata defines
                                    them) match once per flow direction, as in Suricata */
};

struct engine_stats {
    uint32_t rules_in;        /* rules in the ruleset */
    uint32_t rules_compiled;  /* rules in the engine */
    uint32_t rules_dropped;   /* bad pcre, too many flowbit names (messages: engine_error) */
    uint32_t rules_prefiltered;  /* with a fast pattern in a Hyperscan database */
    uint32_t rules_always;    /* no fast pattern: evaluated for every packet of their
                                 protocol(s), or (the indexed ones) of their addresses */
    uint32_t rules_addr_indexed;  /* of those, found by source or destination address
                                     (counted once per protocol group it is in) */
    uint32_t rules_port_indexed;  /* of those, found by destination port (tcp, udp; counted
                                     once per group) */
    uint32_t always_plain;    /* rule-group entries checked on every packet of a group */
    uint32_t hs_fallback;     /* fast patterns Hyperscan refused: evaluated always instead */
    uint32_t pcres, pcres_jit;
    uint32_t databases;       /* Hyperscan databases */
    uint32_t patterns;        /* patterns over all databases */
    size_t db_bytes;          /* hs_database_size over all databases */
    uint32_t flowbit_names;
    double compile_ms;        /* the whole engine_build */
    struct {                  /* per transport group (engine_group_name) */
        uint32_t rules;       /* rules placed in the group */
        uint32_t databases;   /* its Hyperscan databases */
        uint32_t always;      /* rules checked on every packet of the group */
    } group[4];
    uint32_t cache_hits;      /* databases read from the on-disk cache */
    uint32_t cache_stores;    /* databases compiled and written to it */
    double hs_compile_ms;     /* of which hs_compile_ext_multi */
    uint32_t n_errors;        /* messages kept (drops, then Hyperscan fallbacks), at most
                                 ENGINE_ERRORS_KEPT */
};

struct engine;
struct engine_scratch;

/* Called for each alerting rule that matched (not for pass or noalert rules). */
typedef void (*engine_match_fn)(void *ctx, const struct rule *r);

/* Compile `rs`. The engine points into the ruleset's rules: keep `rs` alive
 * and unchanged until engine_free. Rules that cannot be compiled are dropped
 * and counted ("file:line: pcre: reason"); NULL with `err` only when nothing
 * can be built at all (out of memory, a Hyperscan failure). */
struct engine *engine_build(const struct ruleset *rs, char *err, size_t errlen);
/* The same, reading and filing compiled Hyperscan databases in cache_dir
 * (created if missing; NULL = no cache): a ruleset built before loads
 * instead of compiling. A cache that cannot be read or written is passed
 * over, never an error. */
struct engine *engine_build_cached(const struct ruleset *rs, const char *cache_dir, char *err,
                                   size_t errlen);
void engine_free(struct engine *e);

const struct engine_stats *engine_stats(const struct engine *e);
/* "tcp", "udp", "icmp", "other": engine_stats.group[i]'s transport. */
const char *engine_group_name(unsigned i);
/* Drop message i < stats.n_errors. */
const char *engine_error(const struct engine *e, uint32_t i);
/* The bit id of a flowbit name, or -1 (for tests and tools). */
int engine_flowbit_id(const struct engine *e, const char *name);

/* One per worker; NULL when out of memory or Hyperscan fails. */
struct engine_scratch *engine_scratch_alloc(const struct engine *e);
void engine_scratch_free(struct engine_scratch *s);

/* pcre matches stopped by the PCRE2 match, depth or JIT stack limit (each
 * counts as no match) since the last call; resets the count. */
uint32_t engine_scratch_take_pcre_limit_hits(struct engine_scratch *s);

/* Match one packet: applies flowbits of matching rules to pkt->flowbits and
 * calls on_match for each alerting match. Returns the number of alerts. */
uint32_t engine_scan(const struct engine *e, struct engine_scratch *s,
                     const struct engine_packet *pkt, engine_match_fn on_match, void *ctx);

#endif
