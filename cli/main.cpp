// The gridloop executable.
#include "cli/commands.hpp"

#include <iostream>

int main(int argc, char** argv) {
    std::ios::sync_with_stdio(false);
    return gridloop::cli::run(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
