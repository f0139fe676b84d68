# Turns the dashboard page (INPUT) into a C++ source (OUTPUT) defining dashboard_page(), at build time.
file(READ "${INPUT}" page)
string(FIND "${page}" ")HTML\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw-string delimiter )HTML\"")
endif()
file(WRITE "${OUTPUT}.tmp" "// Generated from http/dashboard.html by http/embed.cmake: edit the .html.\n#include \"http/views.hpp\"\n\nnamespace gridloop::http {\n\nconst std::string& dashboard_page() {\n    static const std::string page = R\"HTML(${page})HTML\";\n    return page;\n}\n\n} // namespace gridloop::http\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
