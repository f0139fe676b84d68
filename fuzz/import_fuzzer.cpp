// libFuzzer target: `gridloop import` on an NDJSON file of exported envelopes and posted events,
// into an empty log, through the command line's own code (cli::run).
//
// Invariants: the command exits 0 (all imported) or 1 (some line refused), never by a crash or an
// escaped JSON exception; whatever it appended, the log's hash chain verifies, gapless from position 1.
#include "cli/commands.hpp"
#include "engine/engine.hpp"
#include "engine/verify.hpp"
#include "fuzz/support.hpp"

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string_view>

using namespace gridloop;

namespace {

struct Files {
    std::string empty_db = fuzz::scratch_path("import-empty");
    std::string db = fuzz::scratch_path("import");
    std::string ndjson = fuzz::scratch_path("import") + ".ndjson";
    Files() {
        fuzz::remove_db(empty_db);
        engine::ManualClock clock;
        engine::Engine create(empty_db, clock); // the schema only; closed (and checkpointed) at once
    }
};

Files* files = nullptr;

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    files = new Files; // lives as long as the process: libFuzzer exits without unwinding
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(bytes), size);
    fuzz::copy_db(files->empty_db, files->db);
    {
        std::ofstream f(files->ndjson, std::ios::binary | std::ios::trunc);
        f.write(input.data(), static_cast<std::streamsize>(input.size()));
    }
    std::ostringstream out, err;
    const int code = cli::run({"import", "--db", files->db, files->ndjson}, out, err);
    if (code != 0 && code != 1) fuzz::fail("gridloop import exited " + std::to_string(code) + ": " + err.str(), input);
    // cli::run turns an escaped exception into exit 1 and a line "gridloop import: <what()>": one
    // from nlohmann::json is a bug. (Only at a line's start: refusals quote the input, which may
    // hold that text too.)
    std::istringstream lines(err.str());
    for (std::string line; std::getline(lines, line);)
        if (line.rfind("gridloop import: [json.exception.", 0) == 0) fuzz::fail("a JSON exception escaped: " + line, input);
    const engine::StoreReader store(files->db);
    const auto head = store.head();
    const auto v = engine::verify(store);
    if (!v.ok) fuzz::fail("the imported log does not verify: " + v.problem, input);
    if (v.checked != head.position) fuzz::fail("verify checked " + std::to_string(v.checked) + " rows of " + std::to_string(head.position), input);
    return 0;
}
