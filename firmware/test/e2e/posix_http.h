// Plain-HTTP client over a POSIX socket, for the end-to-end test against a
// local server only (the device uses HTTPS with a pinned CA; see src/main.cpp).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "kiosk/ports.h"

class PosixHttp : public kiosk::HttpTransport {
public:
    explicit PosixHttp(uint16_t port) : port_(port) {}

    kiosk::HttpResponse request(const std::string& method, const std::string& path,
                                const std::vector<kiosk::Header>& headers, const std::string& body) override {
        kiosk::HttpResponse out;
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) return out;
        timeval tv{10, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port_);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            ::close(fd);
            return out;
        }
        std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
                          "\r\nConnection: close\r\nAccept: application/json\r\n";
        for (const auto& h : headers) req += h.name + ": " + h.value + "\r\n";
        if (!body.empty() || method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
        req += "\r\n" + body;
        size_t sent = 0;
        while (sent < req.size()) {
            ssize_t n = ::send(fd, req.data() + sent, req.size() - sent, 0);
            if (n <= 0) {
                ::close(fd);
                return out;
            }
            sent += static_cast<size_t>(n);
        }
        std::string raw;
        char buf[4096];
        while (true) {
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n < 0) {
                out.timed_out = true;
                break;
            }
            if (n == 0) break;
            raw.append(buf, static_cast<size_t>(n));
        }
        ::close(fd);
        size_t head_end = raw.find("\r\n\r\n");
        if (head_end == std::string::npos || raw.compare(0, 5, "HTTP/") != 0) return out;
        std::string head = raw.substr(0, head_end);
        std::string payload = raw.substr(head_end + 4);
        out.status = std::atoi(head.c_str() + head.find(' ') + 1);
        bool chunked = false;
        size_t pos = head.find("\r\n");
        while (pos != std::string::npos && pos < head.size()) {
            size_t next = head.find("\r\n", pos + 2);
            std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
            std::string lower = line;
            for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (lower.rfind("retry-after:", 0) == 0) out.retry_after_s = std::atoll(line.c_str() + 12);
            if (lower.rfind("transfer-encoding:", 0) == 0 && lower.find("chunked") != std::string::npos) chunked = true;
            pos = next;
        }
        if (chunked) {
            std::string decoded;
            size_t p = 0;
            while (p < payload.size()) {
                size_t eol = payload.find("\r\n", p);
                if (eol == std::string::npos) break;
                size_t len = std::strtoul(payload.substr(p, eol - p).c_str(), nullptr, 16);
                if (len == 0) break;
                decoded += payload.substr(eol + 2, len);
                p = eol + 2 + len + 2;
            }
            payload = decoded;
        }
        out.body = payload;
        return out;
    }

private:
    uint16_t port_;
};
