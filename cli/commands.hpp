// The `gridloop` command line: one function per command, each with its --help.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace gridloop::cli {

// Runs `gridloop <args...>`; returns the process exit code. Output goes to out, messages to err.
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

} // namespace gridloop::cli
