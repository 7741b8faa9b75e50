/* engine_int.h - the engine's internals, shared by engine.c (scratch, scan),
 * engine_build.c and engine_verify.c. Not for use outside detectors/engine*. */
#ifndef MAMORI_ENGINE_INT_H
#define MAMORI_ENGINE_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <hs.h>
#include <pcre2.h>

#include "engine.h"

enum { EG_TCP, EG_UDP, EG_ICMP, EG_OTHER, EG_COUNT };

/* One flowbits option, names resolved to bit ids. */
struct eflowbit {
    enum rule_flowbit_cmd cmd;
    bool any_of;
    uint32_t n;
    uint16_t *ids;
};

/* One rule as the engine sees it. */
struct erule {
    const struct rule *r;
    pcre2_code **pcre;          /* per match element (NULL for non-pcre), or NULL */
    struct eflowbit *fb;
    uint32_t n_fb;
    bool sets_bits;             /* has set/unset/toggle */
    bool positive;              /* has a content or pcre that must match (not negated):
                                   in a stream, such a match must end in the new bytes */
    bool ip_only;               /* addresses and protocol only: once per flow direction */
};

/* Always-evaluated rules indexed by a 32-bit key (one side's IPv4 address,
 * IPv6 /32 block, or the destination port): elementary intervals
 * [bound[k], bound[k+1]) each list the rules covering them.
 *
 * Reputation lists make thousands of intervals (ET Open: 6,500 on average),
 * and a plain binary search over them costs each packet a dozen
 * mispredicted branches and cache misses per index. So a larger index also
 * has a slot table: the key's top AINDEX_SLOT_BITS bits name a slot, which
 * holds the interval its first key falls in; the search then runs only
 * between two neighbouring slots' intervals, without branches.
 *
 * Most packets' addresses are in no list (ET Open on the nDPI mix: all but
 * 10 of 94k), yet the search reads three lines (slot, bounds, offsets) to
 * say so. So every index also has a map, a bit per block of keys sharing
 * their top AINDEX_MAP_BITS bits, set when some key of the block has
 * rules: 8 KiB that stay in cache and turn most lookups away at once (ET
 * Open's source index: 4,556 of 65,536 blocks set, and 13% of the mix's
 * TCP packets get past the map). For destination ports it is exact. */
#define AINDEX_SLOT_BITS 12
#define AINDEX_MAP_BITS  16
#define AINDEX_SLOT_MIN  64     /* intervals from which an index gets slots */
struct aindex {
    uint32_t m;
    uint32_t *bound;            /* m ascending interval starts */
    uint32_t *off;              /* m + 1 offsets into ids */
    uint32_t *ids;              /* erule indexes */
    uint32_t *slot;             /* (1 << AINDEX_SLOT_BITS) + 1 interval numbers, or NULL */
    uint64_t *map;              /* 1 << AINDEX_MAP_BITS bits (NULL only when m is 0) */
    uint8_t shift;              /* key >> shift = slot: key bits - AINDEX_SLOT_BITS */
    uint8_t map_shift;          /* key >> map_shift = block: key bits - AINDEX_MAP_BITS */
};

/* The longest literal a rule gives Hyperscan: a longer fast pattern is
 * prefiltered by its first ENGINE_FP_LITERAL_MAX bytes (the verifier checks
 * the whole content). A stream packet rescans max_fp_len - 1 bytes each side
 * of its boundary, so ET Open's 156-byte contents cost 310 bytes a packet;
 * 32 bytes are as selective a prefilter in practice. */
#define ENGINE_FP_LITERAL_MAX 32

/* A pattern id with this bit is a port-listed rule's (the rest is its erule
 * index): a hit counts only if the packet's destination port is listed. */
#define ENGINE_ID_PORTED 0x80000000u

/* Address classes: whether a packet's source (bit 1) and destination (bit
 * 0) lie in the ruleset's $HOME_NET. A fast pattern goes into the databases
 * of every class its rule's addresses allow, so a packet scans only the
 * patterns of rules that can match its addresses: most of ET Open's rules
 * are $EXTERNAL_NET -> $HOME_NET or the reverse, and an inbound packet need
 * not scan the outbound half (Suricata groups its rules by address too).
 * Without a $HOME_NET, or with one that is empty or any, only class 0. */
#define ENGINE_ADDR_CLASSES 4

/* A stream packet's boundary (the end of its window and the start of its
 * new bytes) is scanned for the fast patterns that can cross it: floating
 * ones; a bounded one counts from the new bytes and lies in them. The
 * class's full database does that too, but each Hyperscan call pays for
 * the bounded patterns' anchored matching, and on those 62 bytes that cost
 * dominates: ET Open's boundary scans took 1,216-1,304 cycles each with
 * the full database, 830-906 with one of only the floating patterns. With
 * few bounded patterns the extra database's cold cache lines cost more
 * than they save (Snort community, at most 20 in a class: 301-356 cycles
 * with the full database, 324-380 with its own), so a class gets an edge
 * database from ENGINE_EDGE_BOUNDED_MIN bounded patterns on. */
#define ENGINE_EDGE_BOUNDED_MIN 64

/* ENGINE_EDGE_BIGRAMS: a pattern that crosses the boundary holds the
 * window's last byte and the new bytes' first side by side, so a boundary
 * whose two bytes are adjacent in no floating pattern of the class is not
 * scanned at all. */

/* A packet is scanned once: with `all` when some rule lists its destination
 * port, else with `any`. A database per port that also held the "any"
 * patterns would copy thousands of patterns into hundreds of databases (ET
 * Open); "any" plus a database per port cost two scans. */
struct eprefilter {
    hs_database_t *any;         /* fast patterns of rules for any destination port */
    hs_database_t *all;         /* tcp, udp: those plus each port-listed rule's, once
                                   (ids with ENGINE_ID_PORTED) */
    uint8_t *ported;            /* 65536-bit map: ports some rule in `all` lists */
    hs_database_t *edge;        /* tcp, or NULL: the floating patterns of `all` (or
                                   `any`), for a stream packet's boundary scan */
    uint64_t *bigrams;          /* tcp: 65536-bit map, bit a << 8 | b set when bytes a, b
                                   are adjacent in a floating pattern (ENGINE_EDGE_BIGRAMS) */
    bool borrowed;              /* another class's, identical (freed with that one) */
};

struct egroup {
    struct eprefilter pf[ENGINE_ADDR_CLASSES];   /* by address class */
    uint32_t n_always;
    uint32_t *always;           /* erule indexes, ascending: every packet */
    struct aindex ix[2];        /* by source / destination IPv4 address */
    struct aindex ix6[2];       /* by source / destination IPv6 /32 block */
    struct aindex dport;        /* tcp, udp: by destination port (header-only port scans) */
    uint32_t n_v6;
    uint32_t *v6;               /* IPv6-listed rules no index could take: every IPv6 packet */
};

struct engine {
    uint32_t n_rules;
    struct erule *rules;        /* in evaluation order */
    struct egroup g[EG_COUNT];
    pcre2_match_context *mctx;  /* limited; copied into each scratch */
    const char *cache_dir;      /* during engine_build_cached() only; NULL: no cache */
    uint32_t max_fp_len;        /* longest Hyperscan literal: how far a stream's boundary
                                   scan reaches into the new bytes */
    bool split;                 /* address classes in use: home is $HOME_NET, and
                                   some class has databases of its own */
    struct rule_addrs home;     /* a copy (the ruleset's may be freed first) */
    uint32_t n_bits;
    char **bit_names;
    char *errors[ENGINE_ERRORS_KEPT];
    struct engine_stats st;
};

struct engine_scratch {
    hs_scratch_t *hs;
    const struct engine *e;     /* of the scan in progress: for the port check of hits */
    uint16_t dst_port;
    const uint8_t *joined;      /* a stream packet's [window | new], once joined in this scan */
    pcre2_match_data *md;
    pcre2_jit_stack *jit;       /* ENGINE_JIT_STACK_MAX, this worker's */
    pcre2_match_context *mc[2]; /* limited (engine's limits), unlimited (pcre 'O'); with jit */
    uint32_t pcre_limit_hits;   /* matches stopped by a limit since last taken */
    uint32_t n_cand, cap_cand;
    uint32_t *cand;
};

/* The transport group of an IP protocol number: every scan asks. */
static inline int engine_group_of(uint8_t ip_proto)
{
    switch (ip_proto) {
    case 6:  return EG_TCP;
    case 17: return EG_UDP;
    case 1: case 58: return EG_ICMP;
    default: return EG_OTHER;
    }
}

/* A stream packet's [window | new] as one buffer of window_len +
 * payload_len bytes (the payload itself when there is no window), joined
 * at most once per scan (engine.h: join). */
const uint8_t *engine_stream_bytes(const struct engine_packet *p, struct engine_scratch *s);

/* The whole rule against the packet (not its flowbit side effects). */
bool engine_verify(const struct engine *e, const struct erule *er,
                   const struct engine_packet *p, struct engine_scratch *s);

/* Set/unset/toggle of a matched rule. */
void engine_apply_flowbits(const struct erule *er, struct engine_flowbits *fb);

#endif
