#include "util/system_memory.h"

#include <cstdio>
#include <cstring>

namespace hearth {

std::uint64_t availableSystemMemoryBytes()
{
    std::FILE* f = std::fopen("/proc/meminfo", "re");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kib = 0;
    while (std::fgets(line, sizeof line, f)) {
        if (std::strncmp(line, "MemAvailable:", 13) == 0) {
            std::sscanf(line + 13, "%llu", &kib);
            break;
        }
    }
    std::fclose(f);
    return static_cast<std::uint64_t>(kib) * 1024u;
}

}  // namespace hearth
