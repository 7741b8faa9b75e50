/* test_ndpi_robustness.c - every shared nDPI capture, the fuzzed, malformed
 * and truncated ones and those of link types mamori does not decode
 * included, runs through mamori -r without a crash; in the sanitizer build
 * (make test runs the suite there too) without an ASan/UBSan report. Every
 * packet read is counted by the decoder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_run.h"
#include "e2e.h"

static void test_all_ndpi_captures(void)
{
    char *dir = e2e_mkdtemp(), eve[4200];

    /* One run over all of them, two workers: each file is read in turn. */
    int rc = e2e_run("cd '%s/pcaps/ndpi' && '%s' -w 2 --flows 65536 -l '%s' "
                     "$(ls | grep -E '\\.pcap(ng)?$' | sed 's/^/-r /') 2>'%s/stderr'",
                     e2e_data(), e2e_mamori(), dir, dir);
    snprintf(eve, sizeof(eve), "%s/eve.json", dir);
    /* 3: input damaged, fuzz-2021-10-13.pcap is cut off mid-packet; the
     * files after it are still read */
    CU_ASSERT_EQUAL(rc, 3);
    CU_ASSERT_EQUAL(e2e_stat(eve, "capture", "file_errors"), 1);
    long long read = e2e_stat(eve, "capture", "pkts");
    long long decoded = e2e_stat(eve, "decoder", "pkts");
    long long files = e2e_stat(eve, "capture", "files");
    printf("\n  %lld files, %lld packets read, %lld decoded, %lld invalid, %lld of unsupported link types\n",
           files, read, decoded, e2e_stat(eve, "decoder", "invalid"),
           e2e_stat(eve, "decoder", "link.unsupported"));
    CU_ASSERT(files >= 540);
    CU_ASSERT(read > 100000);
    CU_ASSERT_EQUAL(read, decoded);
    CU_ASSERT_EQUAL(e2e_stat(eve, "flow", "created"), e2e_stat(eve, "flow", "logged"));
    CU_ASSERT_EQUAL(e2e_run("! grep -q 'runtime error\\|AddressSanitizer' '%s/stderr'", dir), 0);
    e2e_rmdir(dir);
}

static CU_TestInfo cases[] = {
    { "all nDPI captures, no crash, every packet counted", test_all_ndpi_captures },
    CU_TEST_INFO_NULL,
};

int main(void)
{
    return cunit_run("ndpi_robustness", cases);
}
