# run.cmake — CTest's check of scripts/check_layering.cmake on the fixture tree src/ here: base is the
# bottom, low uses base, high uses low. low/bad.c includes a header of high (upward): the check must
# fail and name src/low/bad.c:3; the clean modules must pass.
#   cmake -DCHECKER=.../check_layering.cmake -DFIXTURE=.../tests/layering -P run.cmake
cmake_minimum_required(VERSION 3.18)

function(check module allowed expect_success)
  execute_process(COMMAND ${CMAKE_COMMAND} -DMODULE=${module} -DALLOWED=${allowed}
                          -DSOURCE_ROOT=${FIXTURE}/src -P ${CHECKER}
                  RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(output "${out}${err}" PARENT_SCOPE)
  if(expect_success AND NOT result EQUAL 0)
    message(FATAL_ERROR "${module} (may use: ${allowed}) was refused:\n${out}${err}")
  elseif(NOT expect_success AND result EQUAL 0)
    message(FATAL_ERROR "${module} (may use: ${allowed}) passed, but it includes a forbidden header")
  endif()
endfunction()

check(low "base" FALSE)
if(NOT output MATCHES "src/low/bad\\.c:3: error: #include \"high/high\\.h\"")
  message(FATAL_ERROR "the refusal does not name src/low/bad.c:3 and its include:\n${output}")
endif()
if(output MATCHES "vendor" OR output MATCHES "low/low\\.h")
  message(FATAL_ERROR "an include that is not of another module was refused:\n${output}")
endif()

check(high "low,base" TRUE)
check(base "" TRUE)
# Reaching base through low is the caller's to allow: without it, ok.c's line 5 is refused.
check(high "low" FALSE)
if(NOT output MATCHES "src/high/ok\\.c:5: error: #include \"base/base\\.h\"")
  message(FATAL_ERROR "the refusal does not name src/high/ok.c:5:\n${output}")
endif()
message(STATUS "layering check: an upward include fails with its file:line; allowed ones pass")
