/* cunit_run.h - the one main() of every CUnit test program.
 *
 * A test file lists its cases in a CU_TestInfo array and calls
 * cunit_run("suite", cases) from main(). The exit status is non-zero when a
 * case failed or the registry could not be built, which is what meson test
 * reads. */
#ifndef MAMORI_CUNIT_RUN_H
#define MAMORI_CUNIT_RUN_H

#include <stdio.h>
#include <CUnit/Basic.h>

static inline int cunit_run(const char *suite, CU_TestInfo *cases)
{
    CU_SuiteInfo suites[] = {
        { (char *)suite, NULL, NULL, NULL, NULL, cases },
        CU_SUITE_INFO_NULL,
    };
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    if (CU_register_suites(suites) != CUE_SUCCESS) {
        fprintf(stderr, "%s: %s\n", suite, CU_get_error_msg());
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

#endif
