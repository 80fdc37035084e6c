# Helpers that keep per-folder CMakeLists short: model libraries and test programs.

# tessel_model_library(<target> SOURCES ... LIBS ...): a library whose
# TESSEL_REGISTER_MODEL objects must reach the final binary, so it is linked whole.
function(tessel_model_library target)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_library(${target} STATIC ${ARG_SOURCES})
  target_link_libraries(${target} PUBLIC ${ARG_LIBS})
  set_property(GLOBAL APPEND PROPERTY TESSEL_MODEL_LIBRARIES ${target})
endfunction()

# tessel_link_models(<target>): link every registered model library, whole-archive.
function(tessel_link_models target)
  get_property(libs GLOBAL PROPERTY TESSEL_MODEL_LIBRARIES)
  foreach(lib IN LISTS libs)
    target_link_libraries(${target} PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,${lib}>")
  endforeach()
endfunction()

# tessel_test(<name> LABEL <label> SOURCES ... LIBS ...): a GoogleTest program whose
# cases each become one ctest case (one process each, as SystemC requires).
function(tessel_test name)
  # SERIAL: ctest runs the executable's tests with nothing beside them (tests whose
  # subject is thread timing, which a loaded host distorts).
  cmake_parse_arguments(ARG "SERIAL" "LABEL;TIMEOUT" "SOURCES;LIBS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_definitions(${name} PRIVATE
    TESSEL_SOURCE_DIR="${PROJECT_SOURCE_DIR}" TESSEL_BINARY_DIR="${PROJECT_BINARY_DIR}")
  gtest_discover_tests(${name}
    DISCOVERY_MODE PRE_TEST
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    PROPERTIES LABELS "${ARG_LABEL}" TIMEOUT ${ARG_TIMEOUT} RUN_SERIAL ${ARG_SERIAL})
endfunction()
