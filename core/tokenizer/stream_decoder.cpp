#include "tokenizer/stream_decoder.h"

#include <algorithm>

#include "tokenizer/utf8.h"

namespace hearth {

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, StreamDecoderOptions options)
    : m_tokenizer(tokenizer), m_options(std::move(options))
{
    m_options.stopStrings.erase(std::remove(m_options.stopStrings.begin(), m_options.stopStrings.end(), std::string()),
                                m_options.stopStrings.end());
}

void StreamDecoder::reset()
{
    m_pendingBytes.clear();
    m_held.clear();
    m_atStart = true;
    m_stopped = false;
    m_matchedStop.reset();
}

std::string StreamDecoder::push(TokenId id)
{
    if (m_stopped) return {};
    if (m_options.skipSpecial && m_tokenizer.isSpecial(id)) return {};
    m_pendingBytes += m_tokenizer.tokenBytes(id, m_atStart);
    m_atStart = false;

    // Move every decided character from the pending bytes to the held text: complete sequences as
    // they are, invalid ones as U+FFFD; an incomplete sequence at the end waits for more bytes.
    std::size_t pos = 0;
    const std::string_view bytes = m_pendingBytes;
    while (pos < bytes.size()) {
        std::size_t n = tok::validSequenceLength(bytes, pos);
        if (n > 0) {
            m_held.append(bytes.substr(pos, n));
            pos += n;
            continue;
        }
        std::size_t bad = tok::invalidSubpartLength(bytes, pos);
        auto lead = static_cast<unsigned char>(bytes[pos]);
        if (pos + bad == bytes.size() && lead >= 0xC2 && lead <= 0xF4) break;  // may still complete
        m_held.append(tok::kReplacementChar);
        pos += bad;
    }
    m_pendingBytes.erase(0, pos);
    return releaseText(false);
}

std::string StreamDecoder::finish()
{
    if (m_stopped) return {};
    if (!m_pendingBytes.empty()) {
        m_held += tok::toValidUtf8(m_pendingBytes);
        m_pendingBytes.clear();
    }
    return releaseText(true);
}

std::string StreamDecoder::releaseText(bool final)
{
    // The earliest stop wins, as soon as it is complete (a longer stop it begins is not waited for);
    // at the same position the longer one.
    std::size_t stopAt = std::string::npos;
    const std::string* stop = nullptr;
    for (const std::string& s : m_options.stopStrings) {
        std::size_t at = m_held.find(s);
        if (at == std::string::npos) continue;
        if (at < stopAt || (at == stopAt && s.size() > stop->size())) {
            stopAt = at;
            stop = &s;
        }
    }
    std::string out;
    if (stop) {
        out = m_held.substr(0, stopAt);
        m_matchedStop = *stop;
        m_stopped = true;
        m_held.clear();
        m_pendingBytes.clear();
        return out;
    }
    // Hold back the longest tail that is a proper prefix of some stop string.
    std::size_t keep = 0;
    if (!final) {
        for (const std::string& s : m_options.stopStrings) {
            std::size_t maxLen = std::min(s.size() - 1, m_held.size());
            for (std::size_t len = maxLen; len > keep; --len) {
                if (m_held.compare(m_held.size() - len, len, s, 0, len) == 0) {
                    keep = len;
                    break;
                }
            }
        }
    }
    out = m_held.substr(0, m_held.size() - keep);
    m_held.erase(0, m_held.size() - keep);
    return out;
}

}  // namespace hearth
