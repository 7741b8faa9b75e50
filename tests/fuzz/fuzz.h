/* fuzz.h - what every harness in tests/fuzz defines.
 *
 * A harness is one libFuzzer entry point over one of the project's parsers.
 * Built with clang and -fsanitize=fuzzer it is a fuzzer (meson -Dfuzz=true,
 * scripts/fuzz); linked with fuzz_replay.c it is a plain program that runs
 * the entry point over files (the committed corpus and the regression
 * inputs), in every build. */
#ifndef MAMORI_FUZZ_H
#define MAMORI_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Run one input. Returns 0; a bug is a crash or a sanitizer report. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Optional one-time setup, before the first input (libFuzzer's hook). */
int LLVMFuzzerInitialize(int *argc, char ***argv);

#endif
