#include "kiosk/app.h"

#include <cstdlib>

#include "kiosk/provisioning.h"

namespace kiosk {

std::vector<std::string> split_command(const std::string& line) {
    std::vector<std::string> out;
    std::string cur;
    bool in_quotes = false;
    bool have = false;
    for (char c : line) {
        if (c == '"') {
            in_quotes = !in_quotes;
            have = true;
        } else if ((c == ' ' || c == '\t') && !in_quotes) {
            if (have) out.push_back(cur);
            cur.clear();
            have = false;
        } else if (c != '\r' && c != '\n') {
            cur += c;
            have = true;
        }
    }
    if (have) out.push_back(cur);
    return out;
}

KioskApp::KioskApp(Storage& storage, HttpTransport& http, Clock& clock, RandomSource& rng, TicketDisplay& display,
                   Acceptor& acceptor, const AppOptions& options)
    : storage_(storage),
      http_(http),
      clock_(clock),
      rng_(rng),
      display_(display),
      acceptor_(acceptor),
      options_(options),
      outbox_(storage, options.outbox_capacity),
      sync_(outbox_, http, clock, rng, display, options.sync),
      counter_(options.coins) {}

void KioskApp::begin() {
    acceptor_.set_inhibited(true);  // refuse coins until everything below says otherwise
    config_.load(storage_);
    counter_.set_table(config_.coins);
    if (outbox_.load() == OutboxLoad::Corrupt) {
        display_.show_alert("outbox blob failed its check: kept as 'outbox_bad', starting empty");
    }
    sync_.set_credentials({config_.device_id, config_.secret_key});
    began_ = true;
    update_inhibit(true);
    if (outbox_.credit() > 0) display_.show_credit(outbox_.credit(), config_.price, config_.currency);
}

uint32_t KioskApp::inhibit_reasons_now() {
    InhibitInputs in;
    in.provisioned = config_.provisioned();
    in.time_synced = clock_.wall_synced();
    in.link_verified = sync_.link_verified();
    in.consecutive_failures = sync_.consecutive_failures();
    in.outbox_free = outbox_.free_slots();
    in.device_disabled = sync_.device_disabled();
    in.auth_alert = sync_.auth_alert();
    in.storage_fault = storage_fault();
    return inhibit_reasons(options_.inhibit, in);
}

void KioskApp::update_inhibit(bool force) {
    uint32_t reasons = inhibit_reasons_now();
    if (force || reasons != last_reasons_) {
        acceptor_.set_inhibited(reasons != kInhibitNone);
        display_.show_acceptor(reasons);
        last_reasons_ = reasons;
    }
}

void KioskApp::handle_coin(const CoinEvent& coin) {
    if (!coin.accepted) {
        display_.show_alert(coin.pulses == 0 ? std::string("coin pulses lost: coin not credited")
                                             : "unknown coin (" + std::to_string(coin.pulses) +
                                                   " pulses): not credited, check the acceptor programming");
        return;
    }
    // A coin that arrives while inhibited (already in the chute when the line
    // went up, or an acceptor that ignores it) is money in the box: credit it.
    if (!outbox_.add_credit(coin.value)) {
        storage_fault_ = true;
        display_.show_alert("storage fault: a coin of " + std::to_string(coin.value) + " could not be saved");
        return;
    }
    convert_credit();
    if (outbox_.credit() > 0) display_.show_credit(outbox_.credit(), config_.price, config_.currency);
}

void KioskApp::convert_credit() {
    if (outbox_.credit() == 0 || outbox_.credit() < config_.price || outbox_.full()) return;
    // Written and committed (with the credit reset) before the first send.
    int64_t amount = outbox_.credit();
    if (!outbox_.credit_to_payment(uuid_v4(rng_), config_.currency,
                                   clock_.wall_synced() ? clock_.unix_now() : 0)) {
        storage_fault_ = true;
        display_.show_alert("storage fault: payment could not be saved");
        return;
    }
    display_.show_processing(amount, config_.currency);
}

void KioskApp::service(uint64_t now_us) {
    if (!began_) return;
    counter_.poll(now_us);
    CoinEvent coin;
    while (counter_.next(coin)) handle_coin(coin);
    convert_credit();  // a slot may have freed up since the last coin

    if (!pending_claim_.empty() && clock_.wall_synced()) {
        std::string code;
        code.swap(pending_claim_);
        ClaimResult r = claim_device(http_, storage_, config_, code);
        if (r.ok) {
            sync_.set_credentials({config_.device_id, config_.secret_key});
            display_.show_alert("registered as " + config_.device_id);
        } else {
            display_.show_alert("claim failed: " + r.error);
        }
    } else {
        sync_.step();
    }
    update_inhibit(false);
}

std::string KioskApp::status_text() {
    std::string s;
    s += "device_id: " + (config_.device_id.empty() ? std::string("(none)") : config_.device_id) + "\n";
    s += std::string("secret: ") + (config_.secret_key.empty() ? "(none)" : "(set)") + "\n";
    s += "wifi: " + (config_.wifi_ssid.empty() ? std::string("(none)") : config_.wifi_ssid) + "\n";
    s += "server: " + (config_.server_url.empty() ? std::string("(none)") : config_.server_url) + "\n";
    s += std::string("ca: ") + (config_.ca_pem.empty() ? "(none)" : "(set)") + "\n";
    s += "ntp: " + config_.ntp_server + (clock_.wall_synced() ? " (synced)" : " (not synced)") + "\n";
    s += "currency: " + config_.currency + ", price: " + std::to_string(config_.price) + "\n";
    s += "coins: " + format_coin_table(config_.coins) + "\n";
    s += "theme: " + config_.theme.to_blob() + "\n";
    s += "outbox: " + std::to_string(outbox_.size()) + "/" + std::to_string(outbox_.capacity()) +
         ", credit: " + std::to_string(outbox_.credit()) + "\n";
    s += describe_inhibit(inhibit_reasons_now());
    return s;
}

std::string KioskApp::console(const std::string& line, ConsoleAction& action) {
    action = ConsoleAction::None;
    if (pasting_ca_) {
        ca_buffer_ += line;
        ca_buffer_ += "\n";
        if (line.find("-----END CERTIFICATE-----") == std::string::npos) return std::string();
        pasting_ca_ = false;
        std::string pem;
        pem.swap(ca_buffer_);
        if (!looks_like_pem_certificate(pem)) return "error: not a PEM certificate";
        if (!storage_.write(keys::kCaPem, pem) || !storage_.commit()) return "error: storage";
        config_.ca_pem = pem;
        action = ConsoleAction::NetworkChanged;
        return "ok: CA certificate saved (" + std::to_string(pem.size()) + " bytes)";
    }
    return console_command(line, action);
}

std::string KioskApp::console_command(const std::string& line, ConsoleAction& action) {
    std::vector<std::string> args = split_command(line);
    if (args.empty()) return std::string();
    const std::string& cmd = args[0];
    auto save = [&](const char* key, const std::string& value) {
        return storage_.write(key, value) && storage_.commit();
    };
    if (cmd == "help") {
        return "commands: status | wifi <ssid> <password> | server https://host[:port] | ca (then paste PEM) | "
               "ntp <host> | claim <code> | price <amount> | currency <XXX> | coins 1:25,2:50,... | "
               "theme name|colors|locale|queue|tz ... | forget [force] | reboot";
    }
    if (cmd == "status") return status_text();
    if (cmd == "theme") {
        Theme theme = config_.theme;
        std::string reply = apply_theme_command(args, theme);
        if (reply.compare(0, 3, "ok:") != 0) return reply;
        if (!save(keys::kTheme, theme.to_blob())) return "error: storage";
        config_.theme = theme;
        action = ConsoleAction::ThemeChanged;
        return reply;
    }
    if (cmd == "wifi") {
        if (args.size() != 3 || args[1].empty() || args[1].size() > 32 || args[2].size() > 63) {
            return "usage: wifi <ssid> <password>  (quote names with spaces)";
        }
        if (!save(keys::kWifi, wifi_blob(args[1], args[2]))) return "error: storage";
        config_.wifi_ssid = args[1];
        config_.wifi_pass = args[2];
        action = ConsoleAction::WifiChanged;
        return "ok: wifi saved";  // the password is not echoed
    }
    if (cmd == "server") {
        ServerUrl url;
        if (args.size() != 2 || !parse_server_url(args[1], url)) return "usage: server https://host[:port]";
        std::string value = "https://" + url.host + (url.port == 443 ? "" : ":" + std::to_string(url.port));
        if (!save(keys::kServerUrl, value)) return "error: storage";
        config_.server_url = value;
        action = ConsoleAction::NetworkChanged;
        return "ok: server " + value;
    }
    if (cmd == "ca") {
        pasting_ca_ = true;
        ca_buffer_.clear();
        return "paste the server's CA certificate (PEM), ending with -----END CERTIFICATE-----";
    }
    if (cmd == "ntp") {
        if (args.size() != 2 || args[1].size() > 64) return "usage: ntp <host>";
        if (!save(keys::kNtp, args[1])) return "error: storage";
        config_.ntp_server = args[1];
        action = ConsoleAction::NetworkChanged;
        return "ok: ntp " + args[1];
    }
    if (cmd == "claim") {
        // "claim K7QM-2XWD-9HTP" or "claim K7QM 2XWD 9HTP" (the server ignores dashes and spaces).
        std::string code;
        for (size_t i = 1; i < args.size(); i++) code += (i > 1 ? "-" : "") + args[i];
        if (!valid_claim_code(code)) return "usage: claim <code>";
        if (!outbox_.empty() || outbox_.credit() > 0) {
            return "error: payments or credit pending for the current identity; let them settle first";
        }
        if (!config_.network_configured()) return "error: set wifi, server and ca first";
        pending_claim_ = code;
        return "ok: registering once Wi-Fi and time are up";
    }
    if (cmd == "price") {
        if (args.size() != 2 || args[1].empty() || args[1].size() > 9 ||
            args[1].find_first_not_of("0123456789") != std::string::npos) {
            return "usage: price <amount in minor units>";
        }
        if (!save(keys::kPrice, args[1])) return "error: storage";
        config_.price = static_cast<uint32_t>(std::strtoul(args[1].c_str(), nullptr, 10));
        action = ConsoleAction::ThemeChanged;  // the idle screen shows the price
        return "ok: price " + std::to_string(config_.price);
    }
    if (cmd == "currency") {
        if (args.size() != 2 || !valid_currency(args[1])) return "usage: currency <ISO 4217, e.g. XOF>";
        if (!outbox_.empty() || outbox_.credit() > 0) return "error: payments or credit pending";
        if (!save(keys::kCurrency, args[1])) return "error: storage";
        config_.currency = args[1];
        action = ConsoleAction::ThemeChanged;
        return "ok: currency " + args[1];
    }
    if (cmd == "coins") {
        std::vector<CoinType> table;
        if (args.size() != 2 || !parse_coin_table(args[1], table)) return "usage: coins <pulses>:<value>,...";
        if (!save(keys::kCoins, format_coin_table(table))) return "error: storage";
        config_.coins = table;
        counter_.set_table(table);
        return "ok: coins " + format_coin_table(table);
    }
    if (cmd == "forget") {
        bool force = args.size() == 2 && args[1] == "force";
        if ((!outbox_.empty() || outbox_.credit() > 0) && !force) {
            return "error: payments or credit pending (they would be lost); 'forget force' to do it anyway";
        }
        if (!storage_.erase(keys::kIdentity) || !storage_.commit()) return "error: storage";
        config_.device_id.clear();
        config_.secret_key.clear();
        config_.establishment_id.clear();
        config_.queue_id.clear();
        sync_.set_credentials({});
        return "ok: device identity erased";
    }
    if (cmd == "reboot") {
        action = ConsoleAction::Reboot;
        return "rebooting";
    }
    return "unknown command (try help)";
}

}  // namespace kiosk
