// Incremental detokenizer for streaming replies: feed ids one at a time and get back only text
// that is final: whole UTF-8 characters (a character split across byte tokens appears once,
// whole), the metaspace leading-space rule applied like decode, and stop strings honoured across
// token boundaries (text that could still turn into a stop is held back until decided).
// Not thread-safe: one StreamDecoder per stream.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace hearth {

struct StreamDecoderOptions {
    bool skipSpecial = true;               // special tokens produce no text (decode's skipSpecial)
    std::vector<std::string> stopStrings;  // the first to appear ends the stream; it is not emitted
};

class StreamDecoder {
public:
    // `tokenizer` must outlive the decoder.
    explicit StreamDecoder(const Tokenizer& tokenizer, StreamDecoderOptions options = {});

    // Adds one token; returns the text that became final (often empty). After a stop string
    // matched, returns nothing.
    std::string push(TokenId id);
    // Ends the stream: returns everything still held (an incomplete character becomes U+FFFD).
    std::string finish();
    // True once a stop string matched.
    bool stopped() const { return m_stopped; }
    // The stop string that matched, if any.
    const std::optional<std::string>& matchedStop() const { return m_matchedStop; }
    // Starts a new stream with the same options.
    void reset();

private:
    std::string releaseText(bool final);

    const Tokenizer& m_tokenizer;
    StreamDecoderOptions m_options;
    std::string m_pendingBytes;  // an incomplete UTF-8 sequence at the end of the bytes so far
    std::string m_held;          // complete text held back because it may begin a stop string
    bool m_atStart = true;
    bool m_stopped = false;
    std::optional<std::string> m_matchedStop;
};

}  // namespace hearth
