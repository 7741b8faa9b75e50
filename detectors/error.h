/* error.h - filling a caller's error buffer, the one way detectors/ does it.
 *
 * Set-up functions report failure as a message in (err, errlen), which may
 * be NULL/0 when the caller does not want one. */
#ifndef MAMORI_DETECTORS_ERROR_H
#define MAMORI_DETECTORS_ERROR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

static inline void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

#endif
