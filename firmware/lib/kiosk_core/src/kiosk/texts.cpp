#include "kiosk/texts.h"

namespace kiosk {

namespace {

const Texts kFrench = {
    "Insérez vos pièces",
    "Ticket VIP",
    "Encore",
    "Paiement en cours…",
    "Votre ticket",
    "File",
    "Position",
    "Attente",
    "min",
    "Scannez pour suivre",
    "Plus de papier : photographiez le QR code",
    "Pas de reçu : photographiez le QR code",
    "Paiement refusé",
    "Adressez-vous à l'accueil avec cette référence.",
    "Montant",
    "Réf.",
    "Borne désactivée",
    "Les pièces ne sont pas acceptées pour le moment. Adressez-vous à l'accueil.",
    "Hors ligne",
    "Vos pièces sont conservées, votre ticket arrive dès le retour du réseau.",
    "Borne indisponible",
    "Les pièces ne sont pas acceptées pour le moment.",
    "Suivez votre tour : scannez le code",
    "dmy",
};

const Texts kEnglish = {
    "Insert coins",
    "VIP ticket",
    "Still",
    "Payment in progress…",
    "Your ticket",
    "Queue",
    "Position",
    "Wait",
    "min",
    "Scan to follow",
    "Out of paper: take a photo of the QR code",
    "No receipt: take a photo of the QR code",
    "Payment refused",
    "Please see the front desk with this reference.",
    "Amount",
    "Ref.",
    "Kiosk disabled",
    "Coins are not accepted at the moment. Please see the front desk.",
    "Offline",
    "Your coins are kept, your ticket comes as soon as the network is back.",
    "Kiosk unavailable",
    "Coins are not accepted at the moment.",
    "Follow your turn: scan the code",
    "ymd",
};

}  // namespace

const Texts& texts(Lang lang) { return lang == Lang::En ? kEnglish : kFrench; }

}  // namespace kiosk
