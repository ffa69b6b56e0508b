# Run scalepath nccl and check the busbw printed for one size against a
# range from a published measurement. Arguments (-D): EXE, ARGS (|-separated),
# SIZE (bytes, as printed), MIN, MAX (GB/s), SOURCE (where the range is from).
string(REPLACE "|" ";" args "${ARGS}")
execute_process(COMMAND ${EXE} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc STREQUAL "0")
  message(FATAL_ERROR "scalepath failed (${rc}):\n${err}")
endif()
string(REGEX MATCH "\n *${SIZE} +[0-9]+ +[a-z0-9]+ +[a-z]+ +-?[0-9]+ +[0-9.]+ +[0-9.]+ +([0-9.]+)" row "${out}")
if(NOT row)
  message(FATAL_ERROR "no row for size ${SIZE} in:\n${out}")
endif()
set(busbw "${CMAKE_MATCH_1}")
if(busbw LESS "${MIN}" OR busbw GREATER "${MAX}")
  message(FATAL_ERROR "busbw ${busbw} GB/s at ${SIZE} B is outside [${MIN}, ${MAX}] (${SOURCE})\n${out}")
endif()
message(STATUS "busbw ${busbw} GB/s at ${SIZE} B, published range [${MIN}, ${MAX}] (${SOURCE})")
