# A fabric end to end: `scalepath platform --check-routes --bisection` must
# find SimGrid's routes identical to scalepath's own, and the simulated
# bisection throughput equal to what the template promises (to 0.1%).
# Arguments (-D): EXE, PLATFORM, NODES (empty = the file's default).
set(args platform -p ${PLATFORM} --check-routes --bisection)
if(NODES)
  list(APPEND args -n ${NODES})
endif()
execute_process(COMMAND ${EXE} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc STREQUAL "0")
  message(FATAL_ERROR "exit ${rc}\n${out}\n${err}")
endif()
if(NOT out MATCHES "routes: [0-9]+ pairs checked against SimGrid: all agree")
  message(FATAL_ERROR "routes differ:\n${out}\n${err}")
endif()
if(out MATCHES "bisection \\(template\\): ([0-9.]+) GB/s")
  set(want ${CMAKE_MATCH_1})
  if(NOT out MATCHES "bisection \\(simulated\\): ([0-9.]+) GB/s")
    message(FATAL_ERROR "no simulated bisection:\n${out}")
  endif()
  set(got ${CMAKE_MATCH_1})
  # CMake has no floating-point arithmetic: awk compares within a 0.1% band.
  execute_process(COMMAND awk "BEGIN { exit !(${got} >= 0.999 * ${want} && ${got} <= 1.001 * ${want}) }"
                  RESULT_VARIABLE close)
  if(NOT close EQUAL 0)
    message(FATAL_ERROR "simulated bisection ${got} GB/s, template ${want} GB/s\n${out}")
  endif()
endif()
message(STATUS "${out}")
