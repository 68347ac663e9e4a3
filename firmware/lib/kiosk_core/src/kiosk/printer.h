// The receipt printer port and its paper state. A 58 mm TTL thermal printer
// on a UART, spoken to in ESC/POS; the glue implements the port with
// HardwareSerial (src/main.cpp), the tests with a recorder.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kiosk {

class PrinterPort {
public:
    virtual ~PrinterPort() = default;
    virtual void write(const uint8_t* data, size_t size) = 0;
    // Drops whatever the printer sent unasked (a stale status byte would be
    // read as the answer to the next query).
    virtual void discard_input() = 0;
    // One byte from the printer within timeout_ms, or -1.
    virtual int read_byte(uint32_t timeout_ms) = 0;
};

enum class PaperState {
    Ok,
    NearEnd,   // prints; the operator should change the roll soon
    Out,       // roll sensor: no paper; nothing is printed
    NoAnswer,  // no (valid) status byte: unplugged, unpowered or wrong baud rate
};

const char* describe_paper(PaperState state);

// DLE EOT 4 (transmit roll paper sensor status) and its answer:
//   bit 2,3: near-end sensor; bit 5,6: roll end sensor (paper not present);
//   bits 1 and 4 are always 1, bits 0 and 7 always 0 (how we know the byte
//   is a status and not noise).
PaperState query_paper(PrinterPort& port, uint32_t timeout_ms = 200);
PaperState decode_paper_status(int byte);

}  // namespace kiosk
