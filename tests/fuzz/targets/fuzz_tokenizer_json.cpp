// Fuzz: a tokenizer.json from untrusted bytes must load or fail with an error, and a loaded one
// must encode, decode and stream short texts without crashing or hanging. Input: the JSON, then
// optionally a NUL byte and up to 256 bytes of text to encode.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/stream_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size > (1u << 16)) return 0;
    std::string_view input(reinterpret_cast<const char*>(data), size);
    std::string_view json = input;
    std::string_view text = "Hello world, 你好 <|im_end|> 123 \xF0\x9F\x98\x80";
    if (std::size_t nul = input.rfind('\0'); nul != std::string_view::npos) {
        json = input.substr(0, nul);
        text = input.substr(nul + 1, 256);
    }
    auto tokenizer = hearth::tok::HfTokenizer::fromJsonText(json, "fuzz/tokenizer.json");
    if (!tokenizer) return 0;
    const hearth::Tokenizer& t = **tokenizer;
    for (bool parseSpecial : {true, false}) {
        hearth::EncodeOptions options;
        options.parseSpecial = parseSpecial;
        options.addSpecialTokens = !parseSpecial;
        std::vector<hearth::TokenId> ids = t.encode(text, options);
        ids.push_back(-1);
        ids.push_back(static_cast<hearth::TokenId>(t.vocabSize()));
        (void)t.decode(ids, parseSpecial);
        hearth::StreamDecoderOptions streamOptions;
        streamOptions.stopStrings = {"lo w", "\xE4\xBD"};
        hearth::StreamDecoder decoder(t, streamOptions);
        for (hearth::TokenId id : ids) {
            (void)decoder.push(id);
            (void)t.tokenToPiece(id);
        }
        (void)decoder.finish();
    }
    return 0;
}
