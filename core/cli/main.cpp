// hearth-cli: inspect models, run the engine headless, serve the OpenAI-compatible API.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "build_config.h"
#include "cli/commands.h"
#include "util/log.h"

int main(int argc, char** argv)
{
    CLI::App app{"Hearth command line: model files, engine and server without the desktop app"};
    app.set_version_flag("--version", std::string("hearth-cli ") + HEARTH_VERSION_STRING);
    app.require_subcommand(1);
    bool verbose = false;
    app.add_flag("-v,--verbose", verbose, "Log progress and diagnostics to stderr");
    app.parse_complete_callback([&] { hearth::setLogLevel(verbose ? hearth::LogLevel::Debug : hearth::LogLevel::Warning); });

    int exitCode = 0;
    hearth::cli::registerInfoCommand(app, exitCode);
    hearth::cli::registerReferenceCommand(app, exitCode);
    hearth::cli::registerLibraryCommands(app, exitCode);
    hearth::cli::registerTokenizeCommands(app, exitCode);
    hearth::cli::registerScoreCommand(app, exitCode);
    hearth::cli::registerBenchCpuCommand(app, exitCode);
    hearth::cli::registerBenchCommand(app, exitCode);
    hearth::cli::registerTokenizeBenchCommand(app, exitCode);
    hearth::cli::registerServeCommand(app, exitCode);
    hearth::cli::registerGenerateCommands(app, exitCode);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    return exitCode;
}
