// What makes the kiosk the establishment's: name, colours, language, the
// queue's label and the local time offset for the receipt. One NVS item
// ("theme", JSON) set on the console at provisioning: `theme name "..."`,
// `theme colors #primary #accent #vip`, `theme locale fr|en`,
// `theme queue "..."`, `theme tz +60` (minutes east of UTC).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiosk/canvas.h"
#include "kiosk/money.h"

namespace kiosk {

struct Theme {
    std::string name = "Kiosk";
    std::string queue;  // empty: taken from the ticket code ("VA-007" -> "A")
    uint16_t primary = rgb565(0x0B, 0x3D, 0x62);
    uint16_t accent = rgb565(0xF6, 0xB9, 0x3B);
    uint16_t vip = rgb565(0x8E, 0x44, 0xAD);
    Lang lang = Lang::Fr;
    int utc_offset_min = 0;  // West and Central Africa: 0 or +60

    std::string to_blob() const;
    // Missing or malformed fields keep their defaults.
    static Theme from_blob(const std::string& blob);
};

// Applies "theme <field> <value...>" (args[0] == "theme"); returns the
// console reply, starting with "ok:" when the theme changed.
std::string apply_theme_command(const std::vector<std::string>& args, Theme& theme);

// Black or white, whichever reads better on this background.
uint16_t text_color_on(uint16_t background);

// The queue label: the configured one, else the code's prefix without the VIP "V".
std::string queue_label(const Theme& theme, const std::string& code);

}  // namespace kiosk
