// `hearth-cli tokenize` and `hearth-cli render-chat`: the tokenizer and the chat template of a
// model, driven from scripts (input on stdin, result on stdout). docs/CLI.md documents both;
// acceptance checks outside this repository depend on their input and output staying as they are.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <iterator>

#include "chat/chat_template.h"
#include "chat/model_chat_template.h"
#include "cli/commands.h"
#include "tokenizer/tokenizer.h"

namespace hearth::cli {

namespace {

namespace fs = std::filesystem;

std::string readStdin()
{
    std::ios::sync_with_stdio(false);
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

int fail(const std::string& message)
{
    std::fprintf(stderr, "error: %s\n", message.c_str());
    return 1;
}

void printIds(const std::vector<TokenId>& ids)
{
    std::string line;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (i) line += ' ';
        line += std::to_string(ids[i]);
    }
    std::printf("%s\n", line.c_str());
}

bool isGguf(const std::string& path) { return fs::path(path).extension() == ".gguf"; }

int runTokenize(const std::string& model, bool json, bool noSpecial, bool addSpecial)
{
    auto tokenizer = loadTokenizer(model);
    if (!tokenizer) return fail(tokenizer.error().toString());
    std::string text = readStdin();
    std::vector<TokenId> ids = (*tokenizer)->encode(text, {.parseSpecial = !noSpecial, .addSpecialTokens = addSpecial});
    if (!json) {
        printIds(ids);
        return 0;
    }
    nlohmann::json pieces = nlohmann::json::array();
    for (TokenId id : ids) pieces.push_back((*tokenizer)->tokenToPiece(id));
    nlohmann::json out = {{"ids", ids}, {"pieces", pieces}};
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
}

int runRenderChat(const std::string& model, const std::string& templatePath, bool wantIds)
{
    nlohmann::ordered_json input = nlohmann::ordered_json::parse(readStdin(), nullptr, false);
    if (input.is_discarded() || !input.is_object()) return fail("stdin is not a JSON object like {\"messages\": [...]}");
    ChatRenderRequest request;
    for (auto it = input.begin(); it != input.end(); ++it) {
        if (it.key() == "messages") request.messages = it.value();
        else if (it.key() == "tools") request.tools = it.value();
        else if (it.key() == "add_generation_prompt") {
            if (!it.value().is_boolean()) return fail("add_generation_prompt must be true or false");
            request.addGenerationPrompt = it.value().get<bool>();
        } else {
            request.extraVariables[it.key()] = it.value();
        }
    }
    if (!input.contains("messages")) return fail("stdin JSON has no \"messages\" array");
    bool withTools = request.tools.is_array() && !request.tools.empty();

    std::unique_ptr<Tokenizer> tokenizer;
    if (wantIds || isGguf(model)) {
        auto loaded = loadTokenizer(model);
        if (!loaded && wantIds) return fail(loaded.error().toString());
        if (loaded) tokenizer = std::move(loaded).value();
    }
    auto choice = findModelChatTemplate(model, templatePath, withTools, tokenizer.get());
    if (!choice) return fail(choice.error().toString());
    request.bosToken = choice->bos;
    request.eosToken = choice->eos;
    auto tmpl = ChatTemplate::parse(choice->source, choice->name);
    if (!tmpl) return fail(tmpl.error().toString());
    auto prompt = renderChat(*tmpl, request);
    if (!prompt) return fail(prompt.error().toString());
    if (wantIds) {
        // apply_chat_template(tokenize=True): the template writes the special tokens itself.
        printIds(tokenizer->encode(*prompt, {.parseSpecial = true, .addSpecialTokens = false}));
    } else {
        std::fwrite(prompt->data(), 1, prompt->size(), stdout);
    }
    return 0;
}

}  // namespace

void registerTokenizeCommands(CLI::App& app, int& exitCode)
{
    auto* tokenize = app.add_subcommand("tokenize", "Print the token ids of the text on stdin (model folder, tokenizer.json, tokenizer.model or .gguf)");
    auto model = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    auto noSpecial = std::make_shared<bool>(false);
    auto addSpecial = std::make_shared<bool>(false);
    tokenize->add_option("MODEL", *model, "Model folder, tokenizer.json, tokenizer.model or .gguf file")->required();
    tokenize->add_flag("--json", *json, "Print {\"ids\": [...], \"pieces\": [...]}");
    tokenize->add_flag("--no-special", *noSpecial, "Treat special-token text such as <|im_end|> as plain text");
    tokenize->add_flag("--add-special", *addSpecial, "Add BOS/EOS as the tokenizer does with add_special_tokens=True");
    tokenize->callback([=, &exitCode] { exitCode = runTokenize(*model, *json, *noSpecial, *addSpecial); });

    auto* render = app.add_subcommand("render-chat", "Render the chat on stdin ({\"messages\": [...], \"tools\": [...], \"add_generation_prompt\": true}) with the model's chat template");
    auto renderModel = std::make_shared<std::string>();
    auto ids = std::make_shared<bool>(false);
    auto templatePath = std::make_shared<std::string>();
    render->add_option("MODEL", *renderModel, "Model folder, tokenizer.json, tokenizer.model or .gguf file")->required();
    render->add_flag("--ids", *ids, "Print the prompt's token ids instead of its text");
    render->add_option("--template", *templatePath, "Use this Jinja chat template file instead of the model's");
    render->callback([=, &exitCode] { exitCode = runRenderChat(*renderModel, *templatePath, *ids); });
}

}  // namespace hearth::cli
