// Which LoRA adapter (and scale) a conversation uses. Kept in the store's settings table under
// "conversation/<id>/adapter" so it lives next to the conversation's sampling settings without a
// schema change; an empty name means the base model.
#pragma once

#include <cstdlib>
#include <string>

#include "store/conversation_store.h"

namespace hearth::gui {

struct ConversationAdapter {
    std::string name;     // empty: the base model
    float scale = 1.0f;
};

// The adapter chosen for `id` (the base model when none was chosen or the store cannot say).
inline ConversationAdapter conversationAdapter(ConversationStore& store, ConversationId id)
{
    ConversationAdapter out;
    const std::string prefix = "conversation/" + std::to_string(id);
    auto name = store.setting(prefix + "/adapter");
    if (name && name.value()) out.name = *name.value();
    auto scale = store.setting(prefix + "/adapter_scale");
    if (scale && scale.value()) {
        char* end = nullptr;
        const float parsed = std::strtof(scale.value()->c_str(), &end);
        if (end && *end == '\0' && parsed > 0.0f) out.scale = parsed;
    }
    return out;
}

// Saves the adapter choice for `id`.
inline Status setConversationAdapter(ConversationStore& store, ConversationId id, const ConversationAdapter& adapter)
{
    const std::string prefix = "conversation/" + std::to_string(id);
    HEARTH_TRY_STATUS(store.setSetting(prefix + "/adapter", adapter.name));
    return store.setSetting(prefix + "/adapter_scale", std::to_string(adapter.scale));
}

}  // namespace hearth::gui
