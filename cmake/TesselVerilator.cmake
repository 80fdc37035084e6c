# Helpers for the RTL units: one Verilated model per parameter set, all in one library.
#
# Every model goes into the same static library so that Verilator's runtime (verilated.cpp,
# the FST writer, the coverage database) is compiled once with one set of VM_* defines; two
# libraries built with different options would link two incompatible copies of it.

# verilator_coverage merges and annotates the databases the rtl_coverage test collects.
find_program(TESSEL_VERILATOR_COVERAGE verilator_coverage HINTS ${VERILATOR_ROOT}/bin /usr/bin
  REQUIRED)

# tessel_verilate(<library> PREFIX <class> TOP <module> SOURCES <.sv...> [PARAMS K=8 ...]):
# Verilates <module> with the given parameter overrides into class <class>, with FST
# tracing (dumped by the testbenches on failure) and line/toggle coverage compiled in.
function(tessel_verilate library)
  cmake_parse_arguments(ARG "" "PREFIX;TOP" "SOURCES;PARAMS" ${ARGN})
  set(gparams)
  foreach(p IN LISTS ARG_PARAMS)
    list(APPEND gparams "-G${p}")
  endforeach()
  verilate(${library}
    PREFIX ${ARG_PREFIX}
    TOP_MODULE ${ARG_TOP}
    SOURCES ${ARG_SOURCES}
    TRACE_FST COVERAGE
    # The *_Slow files (constructors, trace and coverage registration) run once: not
    # optimising them roughly halves the C++ compile time of a model.
    OPT_SLOW -O0
    VERILATOR_ARGS -Wall ${gparams})
endfunction()

# tessel_rtl_lint(<name> TOP <module> SOURCES <.sv...> [PARAMS ...]): a ctest (label rtl)
# that runs `verilator --lint-only -Wall` on one parameter set and fails on any warning.
function(tessel_rtl_lint name)
  cmake_parse_arguments(ARG "" "TOP" "SOURCES;PARAMS" ${ARGN})
  set(gparams)
  foreach(p IN LISTS ARG_PARAMS)
    list(APPEND gparams "-G${p}")
  endforeach()
  add_test(NAME ${name}
    COMMAND ${VERILATOR_BIN} --lint-only -Wall --top-module ${ARG_TOP} ${gparams} ${ARG_SOURCES}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES LABELS rtl TIMEOUT 60)
endfunction()
