// The screen and the receipt, read back the way a customer would: the
// framebuffer is searched for the expected text in the built-in font, its QR
// is decoded by zbarimg, the printer's bytes are parsed as ESC/POS and the
// GS v 0 raster is decoded by zbarimg too. PNGs of every screen land in the
// output directory (run.sh: KIOSK_FW_UPDATE_SCREENS=1 copies them to docs/screens).
#include <deque>
#include <string>
#include <vector>

#include "escpos_decoder.h"
#include "framebuffer.h"
#include "kiosk/escpos.h"
#include "kiosk/font.h"
#include "kiosk/inhibit.h"
#include "kiosk/money.h"
#include "kiosk/printer.h"
#include "kiosk/qr.h"
#include "kiosk/screen_display.h"
#include "kiosk/screens.h"
#include "kiosk/texts.h"
#include "rig.h"
#include "testing.h"

extern std::string g_out_dir;

namespace {

const std::string kToken = "q7XvK2mZ9pLw3RtY8nB4cD6fH1jS5uA0eG-iO_kMxWz";
const std::string kUrl = "https://kiosk.example.com/t/" + kToken;
const std::string kTxId = "3f2a9c1b-7d4e-4a6b-9c2d-1e0f5a7b8c9d";
constexpr uint16_t kInk = kiosk::rgb565(0x22, 0x22, 0x22);
constexpr uint16_t kMuted = kiosk::rgb565(0x66, 0x66, 0x66);
const std::string NBSP = "\xC2\xA0", NNBSP = "\xE2\x80\xAF", EURO = "\xE2\x82\xAC", ELLIPSIS = "\xE2\x80\xA6";

// Answers DLE EOT 4 with `status` (-1: says nothing); keeps everything else as the job.
class FakePrinter : public kiosk::PrinterPort {
public:
    int status = 0x12;  // paper present, not near end
    int queries = 0;
    std::vector<uint8_t> job;
    std::deque<int> pending;

    void write(const uint8_t* data, size_t size) override {
        if (size == 3 && data[0] == 0x10 && data[1] == 0x04 && data[2] == 0x04) {
            queries++;
            if (status >= 0) pending.push_back(status);
            return;
        }
        job.insert(job.end(), data, data + size);
    }
    void discard_input() override { pending.clear(); }
    int read_byte(uint32_t) override {
        if (pending.empty()) return -1;
        int b = pending.front();
        pending.pop_front();
        return b;
    }
};

std::string save(const std::string& name, const fb::Framebuffer& f) {
    std::string path = g_out_dir + "/" + name + ".png";
    if (!fb::write_png(path, f)) testing::fail(__FILE__, __LINE__, "cannot write " + path);
    return path;
}

kiosk::TicketInfo sample_ticket() {
    kiosk::TicketInfo t;
    t.transaction_id = kTxId;
    t.code = "VA-007";
    t.kind = "VIP";
    t.tracking_url = kUrl;
    t.position = 3;
    t.eta_min = 5;
    t.eta_max = 12;
    t.amount = 500;
    t.currency = "XOF";
    return t;
}

kiosk::Theme sample_theme() {
    kiosk::Theme theme;
    theme.name = "Clinique du Lac";
    theme.queue = "Accueil A";
    return theme;
}

// The receipt as a picture: text in the built-in font (double size for GS !
// 0x11), rasters dot for dot. Only for people reading docs/screens.
fb::Framebuffer receipt_preview(const escpos::Job& job) {
    int h = 16;
    for (const auto& l : job.lines) h += kiosk::kGlyphH * (l.size ? 4 : l.font ? 1 : 2) + 6;
    for (const auto& img : job.images) h += img.height;
    fb::Framebuffer f(kiosk::kPrinterDots, h, kiosk::kWhite);
    int y = 8;
    size_t next_image = 0;
    for (size_t i = 0; i <= job.lines.size(); i++) {
        while (next_image < job.images.size() && job.images[next_image].after_line == i) {
            const auto& img = job.images[next_image++];
            int ox = (kiosk::kPrinterDots - img.width) / 2;
            for (int yy = 0; yy < img.height; yy++) {
                for (int xx = 0; xx < img.width; xx++) {
                    if (img.dark[static_cast<size_t>(yy * img.width + xx)]) f.fill_rect(ox + xx, y + yy, 1, 1, kiosk::kBlack);
                }
            }
            y += img.height;
        }
        if (i == job.lines.size()) break;
        const auto& l = job.lines[i];
        int scale = l.size ? 4 : l.font ? 1 : 2;
        kiosk::draw_text_in(f, 0, y, kiosk::kPrinterDots, l.text, scale, kiosk::kBlack, kiosk::Align::Center);
        if (l.bold) kiosk::draw_text_in(f, 1, y, kiosk::kPrinterDots, l.text, scale, kiosk::kBlack, kiosk::Align::Center);
        y += kiosk::kGlyphH * scale + 6;
    }
    return f;
}

// An image of a raster, with a white border, as zbarimg wants it.
fb::Framebuffer raster_image(const escpos::Image& img) {
    fb::Framebuffer f(img.width + 32, img.height + 32, kiosk::kWhite);
    for (int y = 0; y < img.height; y++) {
        for (int x = 0; x < img.width; x++) {
            if (img.dark[static_cast<size_t>(y * img.width + x)]) f.fill_rect(16 + x, 16 + y, 1, 1, kiosk::kBlack);
        }
    }
    return f;
}

}  // namespace

TEST("money: XOF has no decimals, EUR two, French grouping and symbol placement") {
    using kiosk::Lang;
    CHECK_EQ(kiosk::format_money(500, "XOF", Lang::Fr), "500" + NBSP + "F CFA");
    CHECK_EQ(kiosk::format_money(150000, "XOF", Lang::Fr), "150" + NNBSP + "000" + NBSP + "F CFA");
    CHECK_EQ(kiosk::format_money(300, "EUR", Lang::Fr), "3,00" + NBSP + EURO);
    CHECK_EQ(kiosk::format_money(123456, "EUR", Lang::Fr), "1" + NNBSP + "234,56" + NBSP + EURO);
    CHECK_EQ(kiosk::format_money(5, "EUR", Lang::Fr), "0,05" + NBSP + EURO);
    CHECK_EQ(kiosk::format_money(300, "EUR", Lang::En), EURO + "3.00");
    CHECK_EQ(kiosk::format_money(1500, "XOF", Lang::En), "1,500 F CFA");
    CHECK_EQ(kiosk::format_money(1234, "KWD", Lang::Fr), "1,234" + NBSP + "KWD");
    CHECK_EQ(kiosk::format_money(1000, "JPY", Lang::En), "1,000 JPY");
    CHECK_EQ(kiosk::format_credit(300, 500, "XOF", Lang::Fr), "300 / 500" + NBSP + "F CFA");
    CHECK_EQ(kiosk::format_credit(300, 500, "EUR", Lang::Fr), "3,00 / 5,00" + NBSP + EURO);
    CHECK_EQ(kiosk::format_credit(300, 500, "EUR", Lang::En), EURO + "3.00 / " + EURO + "5.00");
    CHECK_EQ(kiosk::currency_exponent("XAF"), 0);
    CHECK_EQ(kiosk::currency_exponent("TND"), 3);
    CHECK_EQ(kiosk::currency_exponent("USD"), 2);
}

TEST("font: accents, euro and unknown characters fall back cleanly") {
    CHECK_EQ(kiosk::to_font_bytes("Réf. é è à ç ô œ €"), std::string("R\xE9" "f. \xE9 \xE8 \xE0 \xE7 \xF4 \xBD \xA4"));
    CHECK_EQ(kiosk::to_font_bytes("5\xE2\x80\x93" "12"), std::string("5\x96" "12"));      // en dash glyph
    CHECK_EQ(kiosk::to_font_bytes("l\xE2\x80\x99" "accueil"), "l'accueil");              // typographic apostrophe
    CHECK_EQ(kiosk::to_font_bytes("\xE5\x8C\x97"), "?");                                  // CJK: not a wrong letter
    CHECK_EQ(kiosk::to_font_bytes("a\xFF" "b"), "a?b");                                   // malformed UTF-8
    CHECK_EQ(kiosk::to_cp1252("3,00 \xE2\x82\xAC"), std::string("3,00 \x80"));
    CHECK_EQ(kiosk::to_cp1252("150\xE2\x80\xAF" "000"), std::string("150\xA0" "000"));
    CHECK_EQ(kiosk::ellipsize("Clinique du Lac", 6 * 10, 1), "Clinique" + ELLIPSIS);
    CHECK_EQ(kiosk::ellipsize("Court", 6 * 10, 1), "Court");
    CHECK_EQ(kiosk::wrap_text("Vos pièces sont conservées", 6 * 12, 1),
             (std::vector<std::string>{"Vos pièces", "sont", "conservées"}));
    // Every glyph the French texts use exists in the font (no blank letters).
    for (uint8_t ch : kiosk::to_font_bytes("éèêàâçôîûùëïœ€ÉÈÀÇ«»")) {
        int lit = 0;
        for (int r = 0; r < kiosk::kGlyphH; r++) lit += kiosk::kFont6x13[ch][r] != 0;
        CHECK(lit > 0);
    }
}

TEST("qr: a 71-character tracking URL is version 5 (37x37) at ECC M; too long fails cleanly") {
    CHECK_EQ(kToken.size(), static_cast<size_t>(43));
    kiosk::QrMatrix qr;
    REQUIRE(kiosk::encode_qr(kUrl, qr));
    CHECK_EQ(qr.size, 37);
    CHECK_EQ(qr.version(), 5);
    CHECK(!kiosk::encode_qr(std::string(400, 'x'), qr));
    CHECK_EQ(qr.size, 0);
}

TEST("screen: the ticket shows code, queue, position, wait and a QR that decodes to the tracking URL") {
    fb::Framebuffer f(kiosk::kScreenW, kiosk::kScreenH);
    kiosk::Theme theme = sample_theme();
    kiosk::QrMatrix qr;
    REQUIRE(kiosk::encode_qr(kUrl, qr));
    kiosk::draw_ticket_screen(f, theme, sample_ticket(), qr, kiosk::PaperState::Ok);
    std::string path = save("ticket", f);
    CHECK_EQ(fb::zbar_decode(path), kUrl);
    CHECK(fb::contains_text(f, "VA-007", 4, theme.vip));  // 52 px tall
    CHECK(fb::contains_text(f, "Votre ticket", 1, kMuted));
    CHECK(fb::contains_text(f, "Accueil A", 2, kInk));
    CHECK(fb::contains_text(f, "3", 2, kInk));
    CHECK(fb::contains_text(f, "5\xE2\x80\x93" "12 min", 2, kInk));
    CHECK(fb::contains_text(f, "Scannez pour suivre", 1, kInk));
    CHECK(fb::contains_text(f, "Clinique du Lac", 2, kiosk::text_color_on(theme.primary)));
    CHECK(!fb::contains_text(f, "papier", 1, kiosk::kWhite));
    // Without a configured queue name, the VIP code names it: "VA-007" -> "A".
    theme.queue.clear();
    kiosk::draw_ticket_screen(f, theme, sample_ticket(), qr, kiosk::PaperState::Ok);
    CHECK(fb::contains_text(f, "A", 2, kInk));
    CHECK(!fb::contains_text(f, "Accueil", 2, kInk));
}

TEST("screen: credit while coins go in, XOF next to EUR, and the idle price") {
    fb::Framebuffer f(kiosk::kScreenW, kiosk::kScreenH);
    kiosk::Theme theme = sample_theme();
    kiosk::draw_credit_screen(f, theme, 300, 500, "XOF");
    save("credit_xof", f);
    CHECK(fb::contains_text(f, "300 / 500" + NBSP + "F CFA", 3, theme.vip));
    CHECK(fb::contains_text(f, "Insérez vos pièces", 2, kInk));
    CHECK(fb::contains_text(f, "Encore 200" + NBSP + "F CFA", 2, kInk));
    CHECK_EQ(f.at(16 + 100, 150), theme.accent);  // 300/500 of the bar is filled...
    CHECK(f.at(16 + 250, 150) != theme.accent);   // ...not more

    kiosk::draw_credit_screen(f, theme, 300, 500, "EUR");
    save("credit_eur", f);
    CHECK(fb::contains_text(f, "3,00 / 5,00" + NBSP + EURO, 3, theme.vip));
    CHECK(fb::contains_text(f, "Encore 2,00" + NBSP + EURO, 2, kInk));

    kiosk::draw_credit_screen(f, theme, 0, 150000, "XOF");
    save("idle", f);
    CHECK(fb::contains_text(f, "Ticket VIP", 2, kInk));
    CHECK(fb::contains_text(f, "150" + NNBSP + "000" + NBSP + "F CFA", 3, theme.vip));
}

TEST("screen: refused payment with its reference, disabled kiosk, offline with the coins kept") {
    fb::Framebuffer f(kiosk::kScreenW, kiosk::kScreenH);
    fakes::FakeClock clock;
    kiosk::ScreenDisplay screen(f, clock, nullptr);
    screen.configure(sample_theme(), 500, "XOF");
    screen.show_failure(kTxId, 500, "XOF", "amount_below_price");
    save("refused", f);
    CHECK_EQ(kiosk::short_reference(kTxId), "3F2A-9C1B");
    CHECK(fb::contains_text(f, "Réf. 3F2A-9C1B", 3, kInk));
    CHECK(fb::contains_text(f, "Paiement refusé", 3, kiosk::rgb565(0xC0, 0x39, 0x2B)));
    CHECK(fb::contains_text(f, "Montant : 500" + NBSP + "F CFA", 2, kInk));

    clock.advance_ms(61000);
    screen.show_acceptor(kiosk::kInhibitDeviceDisabled);
    screen.tick();
    save("disabled", f);
    CHECK(fb::contains_text(f, "Borne désactivée", 3, kiosk::rgb565(0xC0, 0x39, 0x2B)));

    screen.show_acceptor(kiosk::kInhibitUnreachable);
    save("offline", f);
    CHECK(fb::contains_text(f, "Hors ligne", 3, kiosk::rgb565(0xB9, 0x77, 0x0E)));
    CHECK(fb::contains_text(f, "Vos pièces sont", 2, kInk));
    CHECK(fb::contains_text(f, "conservées, votre", 2, kInk));
    CHECK(fb::contains_text(f, "dès le retour du", 2, kInk));
}

TEST("screen: a long establishment name is ellipsized inside the header") {
    fb::Framebuffer f(kiosk::kScreenW, kiosk::kScreenH);
    kiosk::Theme theme = sample_theme();
    theme.name = "Centre Hospitalier Universitaire de Treichville — Consultations";
    kiosk::draw_credit_screen(f, theme, 0, 500, "XOF");
    save("long_name", f);
    uint16_t on_header = kiosk::text_color_on(theme.primary);
    std::string shown = kiosk::ellipsize(theme.name, kiosk::kScreenW - 16, 2);
    CHECK_EQ(shown, "Centre Hospitalier Unive" + ELLIPSIS);
    CHECK(fb::contains_text(f, shown, 2, on_header));
    CHECK(!fb::contains_text(f, "Treichville", 2, on_header));
    for (int x = 0; x < kiosk::kScreenW; x++) {  // nothing drawn over the screen edges
        CHECK(f.at(x, 1) == theme.primary || f.at(x, 1) == on_header);
        if (x < 8 || x >= kiosk::kScreenW - 8) CHECK_EQ(f.at(x, 17), theme.primary);
    }
}

TEST("screen and receipt: a longer URL (version 10) still fits and decodes") {
    std::string url = "https://files.kiosk-vip.clinique-du-lac.example.org/tracking/" + kToken + "/" + kToken;
    kiosk::QrMatrix qr;
    REQUIRE(kiosk::encode_qr(url, qr));
    CHECK(qr.version() > 5);
    fb::Framebuffer f(kiosk::kScreenW, kiosk::kScreenH);
    kiosk::TicketInfo t = sample_ticket();
    t.tracking_url = url;
    kiosk::draw_ticket_screen(f, sample_theme(), t, qr, kiosk::PaperState::Ok);
    CHECK_EQ(fb::zbar_decode(save("ticket_long_url", f)), url);
    CHECK(fb::contains_text(f, "VA-007", 4, kiosk::Theme().vip));  // 3 px modules leave the column as wide
    kiosk::ReceiptData r;
    r.tracking_url = url;
    escpos::Job job = escpos::decode(kiosk::build_receipt(r));
    REQUIRE(job.images.size() == 1);
    CHECK(job.images[0].width <= kiosk::kPrinterDots);
    CHECK_EQ(fb::zbar_decode(save("receipt_qr_long_url", raster_image(job.images[0]))), url);
}

TEST("screen: English by the theme's locale") {
    fb::Framebuffer f(kiosk::kScreenW, kiosk::kScreenH);
    kiosk::Theme theme = sample_theme();
    theme.lang = kiosk::Lang::En;
    kiosk::QrMatrix qr;
    REQUIRE(kiosk::encode_qr(kUrl, qr));
    kiosk::TicketInfo t = sample_ticket();
    t.eta_min = t.eta_max = 4;
    kiosk::draw_ticket_screen(f, theme, t, qr, kiosk::PaperState::Out);
    save("ticket_en_paper_out", f);
    CHECK(fb::contains_text(f, "Your ticket", 1, kMuted));
    CHECK(fb::contains_text(f, "4 min", 2, kInk));
    CHECK(fb::contains_text(f, "Out of paper: take", 1, kiosk::kWhite));
    CHECK_EQ(fb::zbar_decode(g_out_dir + "/ticket_en_paper_out.png"), kUrl);
    fakes::FakeClock clock;
    kiosk::ScreenDisplay screen(f, clock, nullptr);
    screen.configure(theme, 300, "EUR");
    screen.show_acceptor(kiosk::kInhibitUnreachable);
    CHECK(fb::contains_text(f, "Offline", 3, kiosk::rgb565(0xB9, 0x77, 0x0E)));
    CHECK(fb::contains_text(f, "Your coins are kept,", 2, kInk));
}

TEST("printer: DLE EOT 4 status bits") {
    CHECK(kiosk::decode_paper_status(0x12) == kiosk::PaperState::Ok);
    CHECK(kiosk::decode_paper_status(0x1E) == kiosk::PaperState::NearEnd);  // bits 2,3
    CHECK(kiosk::decode_paper_status(0x72) == kiosk::PaperState::Out);      // bits 5,6
    CHECK(kiosk::decode_paper_status(0x7E) == kiosk::PaperState::Out);
    CHECK(kiosk::decode_paper_status(0x00) == kiosk::PaperState::NoAnswer);  // fixed bits wrong: noise
    CHECK(kiosk::decode_paper_status(0x93) == kiosk::PaperState::NoAnswer);
    CHECK(kiosk::decode_paper_status(-1) == kiosk::PaperState::NoAnswer);
    FakePrinter p;
    p.pending.push_back(0x72);  // a stale byte from before must not be taken as the answer
    CHECK(kiosk::query_paper(p) == kiosk::PaperState::Ok);
    CHECK_EQ(p.queries, 1);
}

TEST("receipt: ESC/POS lines read back, the code double size, the GS v 0 QR decodes to the URL") {
    fb::Framebuffer f(kiosk::kScreenW, kiosk::kScreenH);
    fakes::FakeClock clock;
    clock.unix_s = 1773324300;  // 2026-03-12 14:05 UTC
    FakePrinter printer;
    kiosk::ScreenDisplay screen(f, clock, &printer);
    kiosk::Theme theme = sample_theme();
    theme.utc_offset_min = 60;
    screen.configure(theme, 500, "XOF");
    screen.show_ticket(sample_ticket());
    CHECK(screen.last_paper() == kiosk::PaperState::Ok);
    escpos::Job job = escpos::decode(printer.job);
    CHECK_EQ(job.errors, std::vector<std::string>());
    CHECK(job.reset);
    CHECK_EQ(job.codepage, 16);
    std::vector<std::string> lines;
    for (const auto& l : job.lines) lines.push_back(l.text);
    CHECK_EQ(lines, (std::vector<std::string>{"Clinique du Lac", "Ticket VIP", "VA-007", "File : Accueil A",
                                              "12/03/2026 15:05", "Montant : 500" + NBSP + "F CFA", "Réf. : 3F2A-9C1B",
                                              "Suivez votre tour : scannez le code"}));
    REQUIRE(job.lines.size() == 8);
    CHECK(job.lines[0].bold);
    CHECK_EQ(static_cast<int>(job.lines[2].size), 0x11);
    CHECK_EQ(static_cast<int>(job.lines[3].size), 0);
    CHECK_EQ(job.lines[7].font, 1);
    CHECK(job.feed >= 3);
    REQUIRE(job.images.size() == 1);
    CHECK_EQ(job.images[0].after_line, static_cast<size_t>(7));
    CHECK(job.images[0].width <= kiosk::kPrinterDots);
    CHECK_EQ(job.images[0].height, (37 + 8) * 6);
    std::string path = save("receipt_qr", raster_image(job.images[0]));
    CHECK_EQ(fb::zbar_decode(path), kUrl);
    save("receipt", receipt_preview(job));
    CHECK_EQ(fb::zbar_decode(g_out_dir + "/receipt.png"), kUrl);
    save("ticket_printed", f);
    CHECK_EQ(fb::zbar_decode(g_out_dir + "/ticket_printed.png"), kUrl);

    // EUR, in English.
    printer.job.clear();
    theme.lang = kiosk::Lang::En;
    screen.configure(theme, 300, "EUR");
    kiosk::TicketInfo t = sample_ticket();
    t.amount = 300;
    t.currency = "EUR";
    screen.show_ticket(t);
    job = escpos::decode(printer.job);
    REQUIRE(job.lines.size() == 8);
    CHECK_EQ(job.lines[3].text, "Queue: Accueil A");
    CHECK_EQ(job.lines[4].text, "2026-03-12 15:05");
    CHECK_EQ(job.lines[5].text, "Amount: " + EURO + "3.00");
    CHECK_EQ(job.lines[7].text, "Follow your turn: scan the code");
}

TEST("receipt: no paper -> nothing printed, the screen says so, the kiosk keeps selling") {
    Rig rig(500);
    fb::Framebuffer f(kiosk::kScreenW, kiosk::kScreenH);
    FakePrinter printer;
    printer.status = 0x72;  // roll end
    kiosk::ScreenDisplay screen(f, rig.clock, &printer);
    kiosk::DisplayTee tee(rig.display, screen);
    rig.screen = &tee;
    rig.boot();
    screen.configure(rig.app->config().theme, 500, "XOF");
    rig.run_ms(2000);  // first probe: the server is reachable
    REQUIRE(!rig.acceptor.inhibited);
    rig.coin(3);  // 100
    rig.coin(4);  // 200
    CHECK(fb::contains_text(f, "300 / 500" + NBSP + "F CFA", 3, kiosk::Theme().vip));
    rig.coin(4);  // 300 + 200 = 500: the credit becomes a payment
    save("processing", f);
    CHECK(fb::contains_text(f, "Paiement en cours", 2, kInk));
    rig.run_ms(3000);
    REQUIRE(rig.display.tickets.size() == 1);
    CHECK(screen.last_paper() == kiosk::PaperState::Out);
    CHECK(printer.queries >= 1);
    CHECK(printer.job.empty());
    save("ticket_paper_out", f);
    CHECK_EQ(fb::zbar_decode(g_out_dir + "/ticket_paper_out.png"), rig.display.tickets[0].tracking_url);
    CHECK(fb::contains_text(f, "Plus de papier :", 1, kiosk::kWhite));
    CHECK(fb::contains_text(f, "V-001", 4, kiosk::Theme().vip));
    CHECK(!rig.acceptor.inhibited);  // still selling
    rig.coin(4);  // 200
    CHECK_EQ(rig.app->outbox().credit(), 200u);
    CHECK(fb::contains_text(f, "200 / 500" + NBSP + "F CFA", 3, kiosk::Theme().vip));  // the next customer
    // Paper back: the next ticket prints.
    printer.status = 0x12;
    rig.coin(5);  // 200 + 500: one payment of 700
    rig.run_ms(3000);
    REQUIRE(rig.display.tickets.size() == 2);
    escpos::Job job = escpos::decode(printer.job);
    CHECK_EQ(job.errors, std::vector<std::string>());
    REQUIRE(job.lines.size() == 8);
    CHECK_EQ(job.lines[2].text, "V-002");
}

TEST("receipt: a printer that does not answer prints nothing and the screen says no receipt") {
    fb::Framebuffer f(kiosk::kScreenW, kiosk::kScreenH);
    fakes::FakeClock clock;
    FakePrinter printer;
    printer.status = -1;
    kiosk::ScreenDisplay screen(f, clock, &printer);
    screen.configure(sample_theme(), 500, "XOF");
    screen.show_ticket(sample_ticket());
    CHECK(screen.last_paper() == kiosk::PaperState::NoAnswer);
    CHECK(printer.job.empty());
    CHECK(fb::contains_text(f, "Pas de reçu :", 1, kiosk::kWhite));
    printer.status = 0x1E;  // near end: still prints
    screen.show_ticket(sample_ticket());
    CHECK(screen.last_paper() == kiosk::PaperState::NearEnd);
    CHECK(!printer.job.empty());
    CHECK(!fb::contains_text(f, "papier", 1, kiosk::kWhite));
}

TEST("screen: a ticket stays up through acceptor changes for the hold time, then the state screen") {
    fb::Framebuffer f(kiosk::kScreenW, kiosk::kScreenH);
    fakes::FakeClock clock;
    kiosk::ScreenDisplay screen(f, clock, nullptr);
    screen.configure(sample_theme(), 500, "XOF");
    screen.show_ticket(sample_ticket());
    screen.show_acceptor(kiosk::kInhibitUnreachable);
    clock.advance_ms(30000);
    screen.tick();
    CHECK(fb::contains_text(f, "VA-007", 4, kiosk::Theme().vip));
    CHECK(!fb::contains_text(f, "Hors ligne", 3, kiosk::rgb565(0xB9, 0x77, 0x0E)));
    clock.advance_ms(31000);
    screen.tick();
    CHECK(fb::contains_text(f, "Hors ligne", 3, kiosk::rgb565(0xB9, 0x77, 0x0E)));
    screen.show_acceptor(kiosk::kInhibitNone);
    screen.show_ticket(sample_ticket());
    screen.show_credit(100, 500, "XOF");  // the next customer's coin replaces the ticket at once
    CHECK(fb::contains_text(f, "100 / 500" + NBSP + "F CFA", 3, kiosk::Theme().vip));
}

TEST("theme: set on the console, saved in NVS, survives a reboot; bad input refused") {
    Rig rig(500);
    kiosk::ConsoleAction action;
    CHECK_EQ(rig.app->console("theme name \"Clinique du Lac\"", action), "ok: theme name");
    CHECK(action == kiosk::ConsoleAction::ThemeChanged);
    CHECK_EQ(rig.app->console("theme colors #0A3D62 #F6B93B #8E44AD", action), "ok: theme colors");
    CHECK_EQ(rig.app->console("theme locale en", action), "ok: theme locale");
    CHECK_EQ(rig.app->console("theme tz +60", action), "ok: theme tz");
    CHECK(rig.app->console("theme colors red green blue", action).rfind("usage:", 0) == 0);
    CHECK(rig.app->console("theme locale de", action).rfind("usage:", 0) == 0);
    CHECK(rig.app->console("theme tz +900", action).rfind("usage:", 0) == 0);
    rig.power_cycle();
    const kiosk::Theme& t = rig.app->config().theme;
    CHECK_EQ(t.name, "Clinique du Lac");
    CHECK_EQ(kiosk::format_hex_color(t.primary), "#083C63");  // RGB565 keeps 5/6/5 bits
    CHECK(t.lang == kiosk::Lang::En);
    CHECK_EQ(t.utc_offset_min, 60);
    CHECK(rig.app->status_text().find("\"name\":\"Clinique du Lac\"") != std::string::npos);
}
