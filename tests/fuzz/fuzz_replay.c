/* fuzz_replay.c - a harness as a plain program: run its entry point over
 * every file named, or every file in the directories named (not
 * recursive; names starting with '.' are skipped, so a directory can be
 * kept in git with a .gitkeep).
 *
 *     fuzz_replay_decoder tests/fuzz/regress/decoder tests/fuzz/corpus/decoder
 *
 * A bug an input triggers shows as a crash or a sanitizer report (in the
 * ASan+UBSan build), which fails the program; it prints each file before
 * running it, so the culprit is the last one named. Exits 1 when an
 * argument cannot be read, or when nothing at all was run. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static unsigned n_run;

/* The whole file, malloc'd (at least one byte, so an empty file is a
 * valid buffer), or NULL with errno set. */
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0;

    *len = 0;
    if (f == NULL)
        return NULL;
    for (;;) {
        if (*len == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = nb;
        }
        size_t n = fread(buf + *len, 1, cap - *len, f);
        *len += n;
        if (n == 0)
            break;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    return buf;
}

static int run_file(const char *path)
{
    size_t len;
    uint8_t *data = read_file(path, &len);

    if (data == NULL) {
        fprintf(stderr, "fuzz_replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    printf("%s (%zu bytes)\n", path, len);
    fflush(stdout);
    /* Exactly len bytes, so that a read past the input is reported. */
    uint8_t *exact = malloc(len ? len : 1);
    if (exact == NULL) {
        free(data);
        fprintf(stderr, "fuzz_replay: %s: out of memory\n", path);
        return -1;
    }
    memcpy(exact, data, len);
    free(data);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    n_run++;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file in dir, in name order (so a run is repeatable). */
static int run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    if (d == NULL) {
        fprintf(stderr, "fuzz_replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nv = realloc(names, cap * sizeof(*names));
            if (nv == NULL) {
                rc = -1;
                break;
            }
            names = nv;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if ((names[n] = malloc(len)) == NULL) {
            rc = -1;
            break;
        }
        snprintf(names[n++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (n > 0)                               /* qsort() takes no NULL, even for 0 */
        qsort(names, n, sizeof(*names), by_name);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (rc == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            rc = run_file(names[i]);
        free(names[i]);
    }
    free(names);
    if (rc < 0)
        fprintf(stderr, "fuzz_replay: %s: could not list it (out of memory)\n", dir);
    return rc;
}

int main(int argc, char **argv)
{
    struct stat st;
    int rc = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR ...\n", argv[0]);
        return 2;
    }
    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc && rc == 0; i++) {
        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "fuzz_replay: %s: %s\n", argv[i], strerror(errno));
            rc = -1;
        } else {
            rc = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i]);
        }
    }
    if (rc == 0 && n_run == 0) {
        fprintf(stderr, "fuzz_replay: no input to run\n");
        rc = -1;
    }
    if (rc == 0)
        printf("fuzz_replay: %u inputs, no crash\n", n_run);
    return rc == 0 ? 0 : 1;
}
