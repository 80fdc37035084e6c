# Finds what the Python module needs (TESSEL_PYTHON AUTO|ON|OFF) before any library is made:
# the module links every static library of the project, so they must all be position
# independent when it is built.
if(NOT TESSEL_PYTHON STREQUAL "OFF")
  # Debian's interpreter, which has numpy, pandas and matplotlib from apt; a pyenv or venv
  # python first on PATH would build a module for the wrong interpreter. Override with
  # -DPython3_EXECUTABLE=... for another one.
  if(NOT DEFINED Python3_EXECUTABLE AND EXISTS /usr/bin/python3)
    set(Python3_EXECUTABLE /usr/bin/python3)
  endif()
  find_package(Python3 QUIET COMPONENTS Interpreter Development.Module)
  if(Python3_FOUND)
    set(PYBIND11_FINDPYTHON ON)
    find_package(pybind11 CONFIG QUIET HINTS /usr/lib/cmake/pybind11)
  endif()
endif()
set(_tessel_python_found OFF)
if(Python3_FOUND AND pybind11_FOUND)
  set(_tessel_python_found ON)
endif()
# An AddressSanitizer build cannot be loaded into an interpreter that is not one (the ASan
# runtime must come first in the process): AUTO leaves the module out of sanitizer builds.
if(TESSEL_SANITIZE AND NOT TESSEL_PYTHON STREQUAL "ON")
  set(_tessel_python_found OFF)
endif()
tessel_optional(PYTHON _tessel_python_found)
if(TESSEL_HAVE_PYTHON)
  set(CMAKE_POSITION_INDEPENDENT_CODE ON)
  # -fPIC alone lets GCC assume any global function may be interposed and stop inlining it;
  # the tool and the benchmarks would then be slower than without the module.
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fno-semantic-interposition>)
endif()
