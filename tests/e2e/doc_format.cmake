# The key tables in the platform-format page must be the loader's own.
execute_process(COMMAND ${EXE} check --format OUTPUT_VARIABLE want RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "scalepath check --format failed")
endif()
file(READ ${DOC} doc)
string(FIND "${doc}" "${want}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${DOC} does not contain the output of `scalepath check --format`; "
                      "run scripts/update-platform-doc.sh to regenerate it")
endif()
