# ctest rtl_coverage: run the RTL testbenches with coverage collection, then merge and annotate.
# Inputs: TB (the rtl_units_test binary), OUT (output folder), VERILATOR_COVERAGE (program).
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT}/dat)
set(ENV{TESSEL_RTL_COVERAGE_DIR} ${OUT}/dat)
# The self-test corrupts a reference on purpose; its database would count a failing run.
execute_process(COMMAND ${TB} --gtest_filter=-RtlHarness.* RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "rtl_units_test failed under coverage (exit ${rc})")
endif()
file(GLOB dats ${OUT}/dat/*.dat)
if(NOT dats)
  message(FATAL_ERROR "no coverage databases were written to ${OUT}/dat")
endif()
execute_process(COMMAND ${VERILATOR_COVERAGE} --write ${OUT}/merged.dat --write-info
                        ${OUT}/coverage.info ${dats} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "verilator_coverage merge failed (exit ${rc})")
endif()
execute_process(COMMAND ${VERILATOR_COVERAGE} --annotate ${OUT}/annotated --annotate-min 1
                        ${OUT}/merged.dat
                OUTPUT_VARIABLE summary RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "verilator_coverage annotate failed (exit ${rc})")
endif()
file(WRITE ${OUT}/summary.txt "${summary}")
message(STATUS "RTL coverage: ${summary}annotated sources in ${OUT}/annotated, "
               "lcov data in ${OUT}/coverage.info")
