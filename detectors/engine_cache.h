/* engine_cache.h - compiled Hyperscan databases kept on disk, so a restart
 * (or a reload) with unchanged rules skips compiling.
 *
 * A database is filed under a hash of everything its compile takes: the
 * Hyperscan version, the patterns with their flags, ids and extended
 * parameters, and the mode; and ENGINE_CACHE_LAYOUT, what the engine means
 * by a database (which rules it holds, how ids read), so files an engine of
 * another layout wrote are never taken. The same inputs give the same
 * database, so a hit needs no other check; a file that does not deserialize
 * is ignored and compiled again. Files are written to a temporary name and
 * renamed, so a reader never sees half a database. Internal to
 * detectors/engine*. */
#ifndef MAMORI_ENGINE_CACHE_H
#define MAMORI_ENGINE_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include <hs.h>

/* 2: one database per group ("any") plus one with the port-listed rules
 * (ids with ENGINE_ID_PORTED), literals cut to ENGINE_FP_LITERAL_MAX;
 * 1: "any" plus one database per destination port. */
#define ENGINE_CACHE_LAYOUT 2u

/* The hash of one compile's inputs. */
uint64_t engine_cache_key(const char *const *expr, const unsigned *flags, const unsigned *ids,
                          const hs_expr_ext_t *const *ext, uint32_t n, unsigned mode);

/* The database filed under key in dir, or NULL (none, or unreadable). */
hs_database_t *engine_cache_load(const char *dir, uint64_t key);

/* File db under key in dir; creates dir if missing. false on any failure
 * (the caller goes on without the cache). */
bool engine_cache_store(const char *dir, uint64_t key, const hs_database_t *db);

#endif
