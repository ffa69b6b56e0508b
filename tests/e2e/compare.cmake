# Two scalepath runs whose printed times must order one way: the time the
# PATTERN's first group captures must be smaller in the first run (FAST)
# than in the second (SLOW). Used for `scalepath nccl` runs that differ in
# --algo/--proto (the direction NCCL's own cost model gives; PATTERN picks
# the row for a size) and for `scalepath train` options (the step time).
# Arguments (-D): EXE, FAST, SLOW (|-separated argument lists), PATTERN
# (CMake regex with one group), WHY.
foreach(which FAST SLOW)
  string(REPLACE "|" ";" args "${${which}}")
  execute_process(COMMAND ${EXE} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc STREQUAL "0")
    message(FATAL_ERROR "${which} run failed (${rc}):\n${err}")
  endif()
  if(NOT out MATCHES "${PATTERN}")
    message(FATAL_ERROR "nothing matches ${PATTERN} in the ${which} run:\n${out}")
  endif()
  set(t_${which} ${CMAKE_MATCH_1})
endforeach()
if(NOT t_FAST LESS t_SLOW)
  message(FATAL_ERROR "expected ${t_FAST} < ${t_SLOW}: ${WHY}")
endif()
message(STATUS "${t_FAST} < ${t_SLOW}: ${WHY}")
