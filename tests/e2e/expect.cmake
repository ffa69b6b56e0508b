# Run one command and check its exit status, its output and the files it
# leaves. Arguments (-D): EXE, ARGS (separated by |), EXPECT_RC,
# EXPECT_STDERR / EXPECT_STDOUT (regexes, optional), ABSENT (files that must
# not exist afterwards, separated by |). A crash shows up in rc as text
# ("Segmentation fault", "Subprocess aborted"), so it fails the test.
string(REPLACE "|" ";" args "${ARGS}")
string(REPLACE "|" ";" absent "${ABSENT}")
foreach(f IN LISTS absent)
  file(REMOVE "${f}" "${f}.partial")
endforeach()
execute_process(COMMAND ${EXE} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc STREQUAL "${EXPECT_RC}")
  message(FATAL_ERROR "expected exit status ${EXPECT_RC}, got '${rc}'\nstdout:\n${out}\nstderr:\n${err}")
endif()
string(REPLACE "\n" " " err1 "${err}")
string(REPLACE "\n" " " out1 "${out}")
if(DEFINED EXPECT_STDERR AND NOT EXPECT_STDERR STREQUAL "" AND NOT err1 MATCHES "${EXPECT_STDERR}")
  message(FATAL_ERROR "stderr does not match '${EXPECT_STDERR}':\n${err}")
endif()
if(DEFINED EXPECT_STDOUT AND NOT EXPECT_STDOUT STREQUAL "" AND NOT out1 MATCHES "${EXPECT_STDOUT}")
  message(FATAL_ERROR "stdout does not match '${EXPECT_STDOUT}':\n${out}")
endif()
foreach(f IN LISTS absent)
  if(EXISTS "${f}" OR EXISTS "${f}.partial")
    message(FATAL_ERROR "${f} (or ${f}.partial) exists after a failed run")
  endif()
endforeach()
