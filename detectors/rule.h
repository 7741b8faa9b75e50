/* rule.h - one parsed Suricata/Snort rule: the contract between the rule
 * parser (rule_parser.h) and the engine that compiles and evaluates rules.
 *
 * Everything here is resolved at load time so the engine never re-parses
 * text: variables are expanded, address and port groups are flattened into
 * sorted disjoint ranges (negation already applied), contents are decoded
 * bytes, numbers are numbers. What the engine still has to do itself:
 * compile the pcre patterns (PCRE2) and the fast patterns (Hyperscan), and
 * evaluate the match elements in order.
 *
 * Ownership: a struct rule owns every pointer in it; rule_free() releases
 * them. Nothing points into the rule text or into the variables. */
#ifndef MAMORI_RULE_H
#define MAMORI_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits. Over any of them a rule fails with a message that names the limit;
 * they exist so a hostile or broken rule file cannot make the loader use
 * unbounded memory or time. */
#define RULE_TEXT_MAX        (4u * 1024 * 1024) /* one rule, continuation lines joined */
#define RULE_CONTENT_MAX     (256u * 1024)      /* decoded bytes of one content */
#define RULE_OPTIONS_MAX     4096               /* options in one rule */
#define RULE_MATCHES_MAX     1024               /* match elements in one rule */
#define RULE_FLOWBITS_MAX    64                 /* flowbits options in one rule */
#define RULE_BYTE_VARS_MAX   16                 /* byte_extract variables in one rule */
#define RULE_BYTE_VAR_NAME_MAX 32
#define RULE_RANGES_MAX      65536              /* ranges in one address or port set */
#define RULE_GROUP_DEPTH_MAX 16                 /* nesting of [lists] and $VARS */
#define RULE_POS_MAX         (1024 * 1024)      /* |offset|, depth, |distance|, within */

/* ---- header ---------------------------------------------------------- */

/* What the sensor does when the rule matches. mamori is passive: drop and
 * reject rules alert (action ALERT) and keep what they said in `declared`. */
enum rule_action {
    RULE_ACTION_ALERT,
    RULE_ACTION_PASS,   /* a match suppresses every other alert for the packet */
};

enum rule_declared_action {
    RULE_DECLARED_ALERT,
    RULE_DECLARED_PASS,
    RULE_DECLARED_DROP,        /* drop, sdrop, block */
    RULE_DECLARED_REJECT,      /* reject, rejectsrc, rejectdst, rejectboth */
};

/* IP protocols a rule applies to: a packet matches when its protocol's bit is
 * in rule.proto.mask ("ip" sets every bit). */
enum {
    RULE_PROTO_TCP   = 1u << 0,
    RULE_PROTO_UDP   = 1u << 1,
    RULE_PROTO_ICMP4 = 1u << 2,
    RULE_PROTO_ICMP6 = 1u << 3,
    RULE_PROTO_SCTP  = 1u << 4,
    RULE_PROTO_OTHER = 1u << 5,   /* any other IP protocol number */
    RULE_PROTO_ANY   = 0x3f,
};

/* IP versions, rule.proto.ip_versions. */
enum { RULE_IPV4 = 1u << 0, RULE_IPV6 = 1u << 1, RULE_IP_ANY = 3 };

/* tcp-pkt / tcp-stream in the header: which TCP view the content sees. */
enum rule_tcp_view { RULE_TCP_ANY, RULE_TCP_PKT, RULE_TCP_STREAM };

struct rule_proto {
    char name[24];        /* as written in the header, lower case: "tcp", "http", "dns" */
    bool app;             /* name is an application protocol: its payload is matched raw */
    uint8_t mask;         /* RULE_PROTO_* the rule applies to */
    uint8_t ip_versions;  /* RULE_IPV4 | RULE_IPV6 */
    enum rule_tcp_view tcp_view;
};

/* An address set: sorted, disjoint, non-adjacent inclusive ranges, with any
 * negation already applied. `any` means every address of both families (the
 * arrays are then empty); an empty array for one family means no address of
 * that family matches. */
struct rule_u128 { uint64_t hi, lo; };   /* an IPv6 address as a number */

struct rule_v4_range { uint32_t lo, hi; };           /* host byte order */
struct rule_v6_range { struct rule_u128 lo, hi; };

struct rule_addrs {
    bool any;
    uint32_t n4, n6;
    struct rule_v4_range *v4;
    struct rule_v6_range *v6;
};

struct rule_port_range { uint16_t lo, hi; };

struct rule_ports {
    bool any;
    uint32_t n;
    struct rule_port_range *r;
};

/* ---- numbers ---------------------------------------------------------- */

/* A numeric test (dsize, itype, icode, ttl, ip_proto), with Suricata's
 * forms: N, =N, !N, !=N, <N, <=N, >N, >=N, A<>B and A-B (exclusive), !A<>B,
 * &M=V and &M!=V. */
enum rule_cmp {
    RULE_CMP_EQ, RULE_CMP_NE, RULE_CMP_LT, RULE_CMP_LE, RULE_CMP_GT, RULE_CMP_GE,
    RULE_CMP_RANGE,        /* a < x < b */
    RULE_CMP_NOT_RANGE,    /* x <= a || x >= b */
    RULE_CMP_MASK,         /* (x & a) == b */
    RULE_CMP_NOT_MASK,     /* (x & a) != b */
};

struct rule_uint {
    enum rule_cmp cmp;
    uint64_t a, b;
};

/* A number that may instead name a byte_extract variable of the same rule
 * (content:"x"; distance:len;). var < 0: use `value`; var >= 0: use the value
 * extracted into rule.byte_vars[var] at match time. */
struct rule_operand {
    int64_t value;
    int8_t var;
};

/* ---- match elements, evaluated in rule order -------------------------- */

enum rule_match_type {
    RULE_MATCH_CONTENT,
    RULE_MATCH_PCRE,
    RULE_MATCH_BYTE_TEST,
    RULE_MATCH_BYTE_JUMP,
    RULE_MATCH_BYTE_EXTRACT,
    RULE_MATCH_ISDATAAT,
};

/* rule_content.flags */
enum {
    RULE_CONTENT_NEGATED       = 1u << 0,
    RULE_CONTENT_NOCASE        = 1u << 1,
    RULE_CONTENT_RAWBYTES      = 1u << 2,
    RULE_CONTENT_OFFSET        = 1u << 3,   /* offset set */
    RULE_CONTENT_DEPTH         = 1u << 4,
    RULE_CONTENT_DISTANCE      = 1u << 5,   /* relative to the previous element */
    RULE_CONTENT_WITHIN        = 1u << 6,   /* relative to the previous element */
    RULE_CONTENT_STARTSWITH    = 1u << 7,   /* at offset 0 of the buffer */
    RULE_CONTENT_ENDSWITH      = 1u << 8,   /* ends at the end of the buffer */
    RULE_CONTENT_FAST_PATTERN  = 1u << 9,   /* fast_pattern given on this content */
    RULE_CONTENT_FP_ONLY       = 1u << 10,  /* fast_pattern:only (prefilter match is the match) */
    RULE_CONTENT_FP_CHOP       = 1u << 11,  /* fast_pattern:offset,length: fp_offset/fp_len */
};

struct rule_content {
    uint8_t *bytes;           /* decoded (|hex| and escapes), not NUL-terminated */
    uint32_t len;             /* 1 .. RULE_CONTENT_MAX */
    uint32_t flags;           /* RULE_CONTENT_* */
    struct rule_operand offset, depth;      /* absolute, from the buffer start */
    struct rule_operand distance, within;   /* relative to the previous element's end */
    uint32_t fp_offset, fp_len;             /* with RULE_CONTENT_FP_CHOP */
};

/* rule_pcre.flags: the pattern's modifiers (PCRE2 option in brackets). */
enum {
    RULE_PCRE_CASELESS       = 1u << 0,   /* i (PCRE2_CASELESS) */
    RULE_PCRE_DOTALL         = 1u << 1,   /* s (PCRE2_DOTALL) */
    RULE_PCRE_MULTILINE      = 1u << 2,   /* m (PCRE2_MULTILINE) */
    RULE_PCRE_EXTENDED       = 1u << 3,   /* x (PCRE2_EXTENDED) */
    RULE_PCRE_ANCHORED       = 1u << 4,   /* A (PCRE2_ANCHORED) */
    RULE_PCRE_DOLLAR_ENDONLY = 1u << 5,   /* E (PCRE2_DOLLAR_ENDONLY) */
    RULE_PCRE_UNGREEDY       = 1u << 6,   /* G (PCRE2_UNGREEDY) */
    RULE_PCRE_RELATIVE       = 1u << 7,   /* R: starts where the previous element ended */
    RULE_PCRE_NEGATED        = 1u << 8,   /* pcre:!"..." */
    RULE_PCRE_NO_LIMITS      = 1u << 9,   /* O: ignore configured match limits */
};

struct rule_pcre {
    char *pattern;     /* between the delimiters, as written (PCRE syntax; not compiled here) */
    uint32_t flags;    /* RULE_PCRE_* */
};

/* byte_test / byte_jump / byte_extract flags */
enum {
    RULE_BYTE_RELATIVE       = 1u << 0,
    RULE_BYTE_LITTLE         = 1u << 1,   /* else big endian */
    RULE_BYTE_STRING         = 1u << 2,   /* ASCII number in `base` */
    RULE_BYTE_ALIGN          = 1u << 3,   /* byte_jump: round up to 4 */
    RULE_BYTE_FROM_BEGINNING = 1u << 4,   /* byte_jump */
    RULE_BYTE_FROM_END       = 1u << 5,   /* byte_jump */
    RULE_BYTE_BITMASK        = 1u << 6,   /* `bitmask` applies (then shifted right by its trailing zeros) */
};

enum rule_byte_op {
    RULE_BYTE_OP_LT, RULE_BYTE_OP_GT, RULE_BYTE_OP_EQ,
    RULE_BYTE_OP_LE, RULE_BYTE_OP_GE,
    RULE_BYTE_OP_AND,   /* & : (x & value) != 0 */
    RULE_BYTE_OP_XOR,   /* ^ : (x ^ value) != 0 */
};

struct rule_byte_test {
    uint8_t nbytes;             /* 1..8, or 1..23 with string */
    uint8_t base;               /* 8, 10 or 16 with RULE_BYTE_STRING */
    bool negate;                /* !op: the test succeeds when op fails (!= is negated =) */
    enum rule_byte_op op;
    uint32_t flags;
    struct rule_operand value;
    struct rule_operand offset;
    uint64_t bitmask;
};

struct rule_byte_jump {
    struct rule_operand nbytes; /* 0..8, or 0..23 with string; or a variable */
    struct rule_operand offset; /* -65535..65535 */
    uint8_t base;
    uint32_t flags;
    uint32_t multiplier;        /* 1..65535 */
    int32_t post_offset;        /* -65535..65535 */
    uint64_t bitmask;
};

struct rule_byte_extract {
    uint8_t nbytes;             /* 1..8, or 1..23 with string */
    uint8_t base;
    uint8_t align;              /* 0, 2 or 4 */
    uint8_t var;                /* index in rule.byte_vars this defines */
    uint32_t flags;
    int32_t offset;             /* -65535..65535 */
    uint32_t multiplier;        /* 1..65535 */
    uint64_t bitmask;
};

struct rule_isdataat {
    struct rule_operand size;   /* 0..65535 or a variable */
    bool negated;               /* !N: true when there is NOT data at N */
    bool relative;
};

struct rule_match {
    enum rule_match_type type;
    union {
        struct rule_content content;
        struct rule_pcre pcre;
        struct rule_byte_test byte_test;
        struct rule_byte_jump byte_jump;
        struct rule_byte_extract byte_extract;
        struct rule_isdataat isdataat;
    } u;
};

/* ---- non-payload options --------------------------------------------- */

enum {
    RULE_FLOW_TO_SERVER       = 1u << 0,   /* also from_client */
    RULE_FLOW_TO_CLIENT       = 1u << 1,   /* also from_server */
    RULE_FLOW_ESTABLISHED     = 1u << 2,
    RULE_FLOW_NOT_ESTABLISHED = 1u << 3,
    RULE_FLOW_STATELESS       = 1u << 4,
    RULE_FLOW_ONLY_STREAM     = 1u << 5,
    RULE_FLOW_NO_STREAM       = 1u << 6,
    RULE_FLOW_ONLY_FRAG       = 1u << 7,
    RULE_FLOW_NO_FRAG         = 1u << 8,
};

enum rule_flowbit_cmd {
    RULE_FLOWBIT_SET, RULE_FLOWBIT_UNSET, RULE_FLOWBIT_TOGGLE,
    RULE_FLOWBIT_ISSET, RULE_FLOWBIT_ISNOTSET,
};

struct rule_flowbit {
    enum rule_flowbit_cmd cmd;
    bool any_of;         /* names were joined by '|' (isset/isnotset: any one); else all (&) */
    uint32_t n_names;
    char **names;
};

/* TCP flag bits, as in the TCP header. */
enum {
    RULE_TCP_FIN = 0x01, RULE_TCP_SYN = 0x02, RULE_TCP_RST = 0x04, RULE_TCP_PSH = 0x08,
    RULE_TCP_ACK = 0x10, RULE_TCP_URG = 0x20, RULE_TCP_ECE = 0x40, RULE_TCP_CWR = 0x80,
};

enum rule_flags_mode {
    RULE_FLAGS_EXACT,   /* (pkt & ~ignore) == flags  (no modifier) */
    RULE_FLAGS_PLUS,    /* + : all of flags set, others may be */
    RULE_FLAGS_ANY,     /* * : any of flags set */
    RULE_FLAGS_NOT,     /* ! : none of flags set */
};

struct rule_tcp_flags {
    enum rule_flags_mode mode;
    uint8_t flags;
    uint8_t ignore;      /* the ",mask" part: bits left out of the comparison */
};

enum rule_threshold_type {
    RULE_THRESHOLD_LIMIT, RULE_THRESHOLD_THRESHOLD, RULE_THRESHOLD_BOTH,
};

enum rule_track {
    RULE_TRACK_BY_SRC, RULE_TRACK_BY_DST, RULE_TRACK_BY_RULE,
    RULE_TRACK_BY_BOTH, RULE_TRACK_BY_FLOW,
};

/* threshold: type/track/count/seconds; detection_filter uses track, count
 * and seconds (its type is meaningless and left LIMIT). */
struct rule_threshold {
    bool present;
    enum rule_threshold_type type;
    enum rule_track track;
    uint32_t count;
    uint32_t seconds;
};

enum rule_target { RULE_TARGET_NONE, RULE_TARGET_SRC, RULE_TARGET_DST };

/* ---- the rule ---------------------------------------------------------- */

struct rule {
    /* header */
    enum rule_action action;
    enum rule_declared_action declared;
    struct rule_proto proto;
    struct rule_addrs src, dst;
    struct rule_ports sport, dport;
    bool bidirectional;          /* <> : also match with source and destination swapped */

    /* identity and presentation */
    uint32_t gid, sid, rev;      /* gid 1 unless given */
    char *msg;                   /* unescaped, "" when absent */
    char *classtype;             /* NULL when absent */
    char *category;              /* the classtype's description (EVE alert.category), or NULL */
    uint8_t priority;            /* explicit, else the classtype's, else 3 */
    bool priority_explicit;
    uint32_t n_references;
    char **references;           /* "type,value" as written, trimmed */
    uint32_t n_metadata;
    char **metadata;             /* one "key value" entry each, trimmed */
    char *service;               /* Snort 3 service:, as written, or NULL */
    enum rule_target target;

    /* payload: evaluated in order (relative elements follow their anchor) */
    uint32_t n_matches;
    struct rule_match *matches;
    int32_t fast_pattern;        /* index in matches of the prefilter content, -1 none */
    uint8_t n_byte_vars;
    char byte_vars[RULE_BYTE_VARS_MAX][RULE_BYTE_VAR_NAME_MAX + 1];

    /* packet and flow tests (each `has_` says whether the option was given) */
    uint32_t flow;               /* RULE_FLOW_* */
    uint32_t n_flowbits;
    struct rule_flowbit *flowbits;
    bool noalert;                /* flowbits:noalert or noalert: match silently */
    bool has_dsize, has_itype, has_icode, has_ip_proto, has_ttl, has_flags;
    struct rule_uint dsize, itype, icode, ip_proto, ttl;
    struct rule_tcp_flags flags;
    struct rule_threshold threshold;
    struct rule_threshold detection_filter;

    /* provenance */
    char *text;                  /* the rule as loaded (continuation lines joined) */
    const char *file;            /* owned by the ruleset; NULL outside one */
    uint32_t line;               /* first line of the rule in `file` */
};

/* Release everything a rule owns and zero it. Safe on a zeroed rule. */
void rule_free(struct rule *r);
void rule_addrs_free(struct rule_addrs *a);
void rule_ports_free(struct rule_ports *p);

/* Evaluation helpers for the engine (binary search over the ranges). */
bool rule_addrs_match_v4(const struct rule_addrs *a, uint32_t addr_host_order);
bool rule_addrs_match_v6(const struct rule_addrs *a, const uint8_t addr[16]);
bool rule_ports_match(const struct rule_ports *p, uint16_t port);
bool rule_uint_match(const struct rule_uint *u, uint64_t x);
bool rule_tcp_flags_match(const struct rule_tcp_flags *f, uint8_t tcp_flags);
/* True when m is placed relative to the previous match (distance, within,
 * pcre R, byte_* relative, isdataat relative). */
bool rule_match_is_relative(const struct rule_match *m);

/* Names, for summaries and EVE. */
const char *rule_action_name(enum rule_action a);            /* "alert", "pass" */
const char *rule_declared_name(enum rule_declared_action a); /* "alert", "pass", "drop", "reject" */

#endif
