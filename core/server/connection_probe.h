// Noticing that the client of a non-streaming request went away, so its generation can be
// cancelled within a second. cpp-httplib gives a handler no socket (only streaming responses get
// a writability check), so the probe finds the connection's socket by its TCP address pair among
// this process's descriptors and peeks at it. Linux only; without a match it never reports closed.
#pragma once

#include <string>

namespace httplib {
struct Request;
}

namespace hearth::server {

class ConnectionProbe {
public:
    // Finds the socket of `request`'s connection (valid while its handler runs).
    static ConnectionProbe forRequest(const httplib::Request& request);

    bool found() const { return m_fd >= 0; }
    // True once the peer closed or reset the connection.
    bool peerClosed() const;

private:
    int m_fd = -1;
};

}  // namespace hearth::server
