/* engine_cache.c - Hyperscan databases on disk, keyed by their inputs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine_cache.h"

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME  0x100000001b3ull
#define CACHE_FILE_MAX (512u << 20)   /* no database is this large */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * FNV_PRIME;
    return h;
}

uint64_t engine_cache_key(const char *const *expr, const unsigned *flags, const unsigned *ids,
                          const hs_expr_ext_t *const *ext, uint32_t n, unsigned mode)
{
    const char *version = hs_version();
    uint64_t h = fnv(FNV_OFFSET, version, strlen(version) + 1);
    unsigned layout = ENGINE_CACHE_LAYOUT;

    h = fnv(h, &layout, sizeof(layout));

    h = fnv(h, &mode, sizeof(mode));
    h = fnv(h, &n, sizeof(n));
    for (uint32_t i = 0; i < n; i++) {
        h = fnv(h, expr[i], strlen(expr[i]) + 1);
        h = fnv(h, &flags[i], sizeof(flags[i]));
        h = fnv(h, &ids[i], sizeof(ids[i]));
        /* field by field: the struct's padding is not ours to hash */
        uint64_t x[3] = { 0, 0, 0 };
        if (ext[i] != NULL)
            x[0] = ext[i]->flags, x[1] = ext[i]->min_offset, x[2] = ext[i]->max_offset;
        h = fnv(h, x, sizeof(x));
    }
    return h;
}

static void cache_path(char *buf, size_t len, const char *dir, uint64_t key)
{
    snprintf(buf, len, "%s/%016llx.hsdb", dir, (unsigned long long)key);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    long n = (fseek(f, 0, SEEK_END) == 0) ? ftell(f) : -1;
    if (n > 0 && (unsigned long)n <= CACHE_FILE_MAX && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n)) != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

hs_database_t *engine_cache_load(const char *dir, uint64_t key)
{
    char path[4096];
    size_t len = 0;
    hs_database_t *db = NULL;

    cache_path(path, sizeof(path), dir, key);
    char *bytes = read_file(path, &len);
    if (bytes == NULL)
        return NULL;
    if (hs_deserialize_database(bytes, len, &db) != HS_SUCCESS)
        db = NULL;
    free(bytes);
    return db;
}

bool engine_cache_store(const char *dir, uint64_t key, const hs_database_t *db)
{
    char path[4096], tmp[4200];
    char *bytes = NULL;
    size_t len = 0;

    if (mkdir(dir, 0750) < 0 && errno != EEXIST)
        return false;
    if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS)
        return false;
    cache_path(path, sizeof(path), dir, key);
    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    bool ok = f != NULL && fwrite(bytes, 1, len, f) == len;
    if (f != NULL && fclose(f) != 0)
        ok = false;
    ok = ok && rename(tmp, path) == 0;
    if (!ok)
        unlink(tmp);
    free(bytes);
    return ok;
}
