# Two `scalepath nccl` runs that differ in --algo/--proto: the time printed
# for SIZE must be smaller in the first (FAST) than in the second (SLOW), the
# direction NCCL's own cost model gives. Arguments (-D): EXE, FAST, SLOW
# (|-separated argument lists), SIZE (bytes as printed), WHY.
foreach(which FAST SLOW)
  string(REPLACE "|" ";" args "${${which}}")
  execute_process(COMMAND ${EXE} ${args} -v RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc STREQUAL "0")
    message(FATAL_ERROR "${which} run failed (${rc}):\n${err}")
  endif()
  if(NOT out MATCHES "\n *${SIZE} +[0-9]+ +[a-z0-9]+ +[a-z]+ +-?[0-9]+ +([0-9.]+) ")
    message(FATAL_ERROR "no row for ${SIZE} in the ${which} run:\n${out}")
  endif()
  set(t_${which} ${CMAKE_MATCH_1})
endforeach()
if(NOT t_FAST LESS t_SLOW)
  message(FATAL_ERROR "expected ${t_FAST} us < ${t_SLOW} us at ${SIZE} B: ${WHY}")
endif()
message(STATUS "${t_FAST} us < ${t_SLOW} us at ${SIZE} B: ${WHY}")
