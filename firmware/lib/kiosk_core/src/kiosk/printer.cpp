#include "kiosk/printer.h"

namespace kiosk {

const char* describe_paper(PaperState state) {
    switch (state) {
        case PaperState::Ok: return "paper ok";
        case PaperState::NearEnd: return "paper near end";
        case PaperState::Out: return "paper out";
        case PaperState::NoAnswer: return "printer not answering";
    }
    return "?";
}

PaperState decode_paper_status(int byte) {
    if (byte < 0 || (byte & 0x93) != 0x12) return PaperState::NoAnswer;
    if (byte & 0x60) return PaperState::Out;
    if (byte & 0x0C) return PaperState::NearEnd;
    return PaperState::Ok;
}

PaperState query_paper(PrinterPort& port, uint32_t timeout_ms) {
    static const uint8_t kQuery[] = {0x10, 0x04, 0x04};  // DLE EOT 4
    port.discard_input();
    port.write(kQuery, sizeof kQuery);
    return decode_paper_status(port.read_byte(timeout_ms));
}

}  // namespace kiosk
