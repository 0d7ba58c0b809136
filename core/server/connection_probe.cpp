// The socket is matched on both ends' address and port: a TCP 4-tuple names one connection, and
// httplib keeps the descriptor open until the handler returns, so the match cannot go stale.
#include "server/connection_probe.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdlib>

#include <httplib.h>

namespace hearth::server {

namespace {

bool sameEndpoint(const sockaddr_storage& addr, const std::string& host, int port)
{
    char text[INET6_ADDRSTRLEN] = {};
    int actualPort = -1;
    if (addr.ss_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
        actualPort = ntohs(in->sin_port);
    } else if (addr.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
        actualPort = ntohs(in6->sin6_port);
    } else {
        return false;
    }
    if (actualPort != port) return false;
    std::string actual = text;
    // httplib may print an IPv4-mapped address either way.
    auto strip = [](const std::string& s) { return s.rfind("::ffff:", 0) == 0 ? s.substr(7) : s; };
    return strip(actual) == strip(host);
}

}  // namespace

ConnectionProbe ConnectionProbe::forRequest(const httplib::Request& request)
{
    ConnectionProbe probe;
    if (request.remote_port <= 0 || request.local_port <= 0) return probe;
    DIR* dir = opendir("/proc/self/fd");
    if (!dir) return probe;
    while (dirent* entry = readdir(dir)) {
        char* end = nullptr;
        long fd = std::strtol(entry->d_name, &end, 10);
        if (end == entry->d_name || *end != '\0' || fd == dirfd(dir)) continue;
        struct stat st;
        if (fstat(static_cast<int>(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
        sockaddr_storage local{}, peer{};
        socklen_t localLen = sizeof local, peerLen = sizeof peer;
        if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local), &localLen) != 0) continue;
        if (getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &peerLen) != 0) continue;
        if (sameEndpoint(local, request.local_addr, request.local_port) &&
            sameEndpoint(peer, request.remote_addr, request.remote_port)) {
            probe.m_fd = static_cast<int>(fd);
            break;
        }
    }
    closedir(dir);
    return probe;
}

bool ConnectionProbe::peerClosed() const
{
    if (m_fd < 0) return false;
    pollfd p{m_fd, static_cast<short>(POLLIN | POLLRDHUP), 0};
    if (poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLERR | POLLHUP | POLLRDHUP | POLLNVAL)) return true;
    if (p.revents & POLLIN) {
        char byte;
        // 0 bytes: orderly close. Data: a pipelined next request, so the client is still there.
        return recv(m_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
    }
    return false;
}

}  // namespace hearth::server
