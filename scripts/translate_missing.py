"""Report (and with --check, fail on) catalogue entries with no translation.

English is the source language: an empty English msgstr is filled with the
msgid. French must be translated by a person (or a developer) in the .po.
"""
import sys

from babel.messages.pofile import read_po, write_po

missing = []
for lang in ("fr", "en"):
    path = f"kiosk/translations/{lang}/LC_MESSAGES/messages.po"
    with open(path, "rb") as f:
        catalog = read_po(f, locale=lang)
    changed = False
    for message in catalog:
        if not message.id:
            continue
        if message.fuzzy:
            message.flags.discard("fuzzy")
            changed = True
        empty = (not message.string) if isinstance(message.id, str) else not all(message.string)
        if empty and lang == "en":
            message.string = message.id if isinstance(message.id, str) else tuple(message.id)
            changed = True
        elif empty:
            missing.append((lang, message.id))
    if changed:
        with open(path, "wb") as f:
            write_po(f, catalog, width=100, omit_header=False)
for lang, msgid in missing:
    print(f"{lang}: missing translation for {msgid!r}")
if "--check" in sys.argv and missing:
    sys.exit(1)
