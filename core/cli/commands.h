// Each command family registers its subcommands on the CLI11 app. A command stores its exit
// status in `exitCode` (0 ok, 1 error the user can act on, 2 bad usage).
#pragma once

namespace CLI {
class App;
}

namespace hearth::cli {

void registerInfoCommand(CLI::App& app, int& exitCode);
void registerReferenceCommand(CLI::App& app, int& exitCode);  // gen-reference
void registerLibraryCommands(CLI::App& app, int& exitCode);  // list, inspect
void registerTokenizeCommands(CLI::App& app, int& exitCode);  // tokenize, render-chat
void registerScoreCommand(CLI::App& app, int& exitCode);  // score
void registerBenchCpuCommand(CLI::App& app, int& exitCode);  // bench-cpu
void registerBenchCommand(CLI::App& app, int& exitCode);  // bench (--load)
void registerTokenizeBenchCommand(CLI::App& app, int& exitCode);  // bench-tokenize
void registerServeCommand(CLI::App& app, int& exitCode);  // serve
void registerGenerateCommands(CLI::App& app, int& exitCode);  // run, chat

}  // namespace hearth::cli
