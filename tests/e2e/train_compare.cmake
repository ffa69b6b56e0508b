# Two `scalepath train` runs: the step printed by the first (FAST) must be
# shorter than the second's (SLOW). Arguments (-D): EXE, FAST, SLOW
# (|-separated argument lists), WHY.
foreach(which FAST SLOW)
  string(REPLACE "|" ";" args "${${which}}")
  execute_process(COMMAND ${EXE} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc STREQUAL "0")
    message(FATAL_ERROR "${which} run failed (${rc}):\n${err}")
  endif()
  if(NOT out MATCHES "step time +([0-9.]+) ms")
    message(FATAL_ERROR "no step time in the ${which} run:\n${out}")
  endif()
  set(t_${which} ${CMAKE_MATCH_1})
endforeach()
if(NOT t_FAST LESS t_SLOW)
  message(FATAL_ERROR "expected ${t_FAST} ms < ${t_SLOW} ms: ${WHY}")
endif()
message(STATUS "${t_FAST} ms < ${t_SLOW} ms: ${WHY}")
