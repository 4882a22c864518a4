"""The English and French words the time-expression parser knows.

Text is normalised before lookup (lower case, accents stripped, apostrophes
dropped), so every entry here is plain ASCII: "après-demain" arrives as
``apres demain``, "aujourd'hui" as ``aujourdhui``, "d'ici" as ``dici``.

Pure synonyms are folded into one canonical word by :data:`CANONICAL` when the
text is tokenised, so the grammar speaks a single vocabulary. Words whose meaning
depends on their place are deliberately *not* folded: ``a`` (French "à", or the
English article in "in a minute"), ``an`` (English article, or French "year"),
``sept`` (French "seven", or the month), ``m`` and ``h`` (units or times).
"""

from __future__ import annotations

import unicodedata
from typing import Final

#: str.translate table: accents to ASCII, apostrophes dropped, exotic spaces to spaces.
FOLD: Final = {
    **{
        cp: base
        for cp in range(0xC0, 0x250)
        if (base := "".join(c for c in unicodedata.normalize("NFKD", chr(cp)) if c.isascii()))
        and base != chr(cp)
    },
    ord("œ"): "oe",
    ord("æ"): "ae",
    ord("ß"): "ss",
    ord("'"): None,
    ord("\u2019"): None,
    ord("\u2018"): None,
    ord("`"): None,
    ord("\u00a0"): " ",  # no-break space, and the narrow one French typography puts in "9 h"
    ord("\u202f"): " ",
}

# The tables below are laid out by meaning, several entries a line.
# fmt: off

#: Synonyms folded at tokenisation; the grammar only ever sees the right-hand side.
CANONICAL: Final[dict[str, str]] = {
    # relative
    "dans": "in", "dici": "in", "within": "in",
    "maintenant": "now",
    # recurring
    "each": "every", "chaque": "every", "tous": "every", "toutes": "every",
    "tout": "every", "toute": "every",
    # connectors
    "et": "and", "&": "and", "+": "and",
    "@": "at", "vers": "at", "around": "at", "about": "at",
    "through": "to", "thru": "to", "till": "to", "until": "to", "au": "to",
    "jusqua": "to", "jusquau": "to",
    "de": "of", "du": "of", "des": "of",
    "le": "the", "la": "the", "l": "the",
    # days
    "aujourdhui": "today",
    "demain": "tomorrow",
    "apresdemain": "overmorrow",
    # Days in the past are read, so that the error says the time is past rather
    # than that the word is unknown.
    "hier": "yesterday",
    "avanthier": "ereyesterday",
    "ce": "this", "cet": "this", "cette": "this", "coming": "this",
    "prochain": "next", "prochaine": "next",
    # times of day
    "midi": "noon", "midday": "noon",
    "minuit": "midnight",
    "matin": "morning", "matinee": "morning", "mornings": "morning", "matins": "morning",
    "soir": "evening", "soiree": "evening", "evenings": "evening", "soirs": "evening",
    "afternoons": "afternoon", "aprem": "afternoon",
    "lapres": "apres",
    "heure": "heures",
    "dheure": "heures",  # "un quart d'heure"
    # weekday families
    "weekdays": "weekday", "weekends": "weekend",
    "ouvres": "workdays", "ouvrables": "workdays", "ouvre": "workdays",
    "business": "working", "work": "working",
}

# fmt: on

#: Weekday names: Python weekday number (Monday is 0) and whether the word is plural.
WEEKDAYS: Final[dict[str, tuple[int, bool]]] = {}
for _number, _names in enumerate(
    (
        ("monday", "mon", "lundi"),
        ("tuesday", "tue", "tues", "mardi"),
        ("wednesday", "wed", "mercredi"),
        ("thursday", "thu", "thur", "thurs", "jeudi"),
        ("friday", "fri", "vendredi"),
        ("saturday", "sat", "samedi"),
        ("sunday", "sun", "dimanche"),
    )
):
    for _name in _names:
        WEEKDAYS[_name] = (_number, False)
    # "mondays", "lundis": the plural says "every".
    WEEKDAYS[_names[0] + "s"] = (_number, True)
    WEEKDAYS[_names[-1] + "s"] = (_number, True)

#: Month names, English and French (the French three-letter weekday abbreviations
#: are left out on purpose: "mar" is March, "sam" and "dim" are too terse to trust).
MONTHS: Final[dict[str, int]] = {}
for _number, _names in enumerate(
    (
        ("january", "jan", "janvier", "janv"),
        ("february", "feb", "fevrier", "fevr", "fev"),
        ("march", "mar", "mars"),
        ("april", "apr", "avril", "avr"),
        ("may", "mai"),
        ("june", "jun", "juin"),
        ("july", "jul", "juillet", "juil"),
        ("august", "aug", "aout"),
        ("september", "sep", "sept", "septembre"),
        ("october", "oct", "octobre"),
        ("november", "nov", "novembre"),
        ("december", "dec", "decembre"),
    ),
    start=1,
):
    for _name in _names:
        MONTHS[_name] = _number

#: English month names for messages (calendar.month_name would follow the locale).
MONTH_NAMES: Final = (
    "", "January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December",
)  # fmt: skip

#: Duration units: (kind, size). Kind "s" is exact elapsed seconds; "d" is calendar
#: days and "mo" calendar months, both of which keep the wall-clock time.
UNITS: Final[dict[str, tuple[str, int]]] = {}
for _kind, _size, _names in (
    ("s", 1, ("s", "sec", "secs", "second", "seconds", "seconde", "secondes")),
    ("s", 60, ("m", "mn", "min", "mins", "minute", "minutes")),
    ("s", 3600, ("h", "hr", "hrs", "hour", "hours", "heures")),
    ("d", 1, ("d", "day", "days", "j", "jour", "jours", "journee", "journees")),
    ("d", 7, ("w", "wk", "wks", "week", "weeks", "semaine", "semaines", "sem")),
    ("mo", 1, ("mo", "mos", "month", "months", "mois")),
    ("mo", 12, ("y", "yr", "yrs", "year", "years", "an", "ans", "annee", "annees")),
):
    for _name in _names:
        UNITS[_name] = (_kind, _size)

#: "1h30" and "1m30": a bare number after a unit counts in the next smaller unit.
SUBUNIT: Final[dict[int, int]] = {3600: 60, 60: 1}

# fmt: off
#: Spelled-out amounts ("in an hour", "dans deux jours").
AMOUNTS: Final[dict[str, int]] = {
    "a": 1, "an": 1, "one": 1, "un": 1, "une": 1,
    "two": 2, "deux": 2, "three": 3, "trois": 3, "four": 4, "quatre": 4,
    "five": 5, "cinq": 5, "six": 6, "seven": 7, "sept": 7, "eight": 8, "huit": 8,
    "nine": 9, "neuf": 9, "ten": 10, "dix": 10, "eleven": 11, "onze": 11,
    "twelve": 12, "douze": 12, "fifteen": 15, "quinze": 15, "twenty": 20, "vingt": 20,
    "thirty": 30, "trente": 30, "forty": 40, "quarante": 40, "fifty": 50, "cinquante": 50,
}
# fmt: on
#: Fractions of a unit, in quarters: "half an hour", "un quart d'heure", "trois quarts".
FRACTIONS: Final[dict[str, int]] = {
    "half": 2,
    "demi": 2,
    "demie": 2,
    "quarter": 1,
    "quart": 1,
    "quarters": 1,
    "quarts": 1,
}  # fmt: skip

#: Suffixes that make a number an ordinal day: 1st, 2nd, 1er, 2e, 3eme.
ORDINAL_SUFFIXES: Final = frozenset({"st", "nd", "rd", "th", "er", "ere", "re", "e", "eme", "ieme"})
#: Words after a number that make it a time of day: "9h", "9 heures", "9 o'clock".
HOUR_MARKERS: Final = frozenset({"h", "heures", "oclock"})

ORDINAL_WORDS: Final[dict[str, int]] = {"first": 1, "premier": 1, "premiere": 1}

#: Parts of the day, and the hour each one means when no time is given.
DAY_PARTS: Final = frozenset({"morning", "afternoon", "evening"})
DAY_PART_HOURS: Final[dict[str, int]] = {"morning": 9, "afternoon": 14, "evening": 19}

#: Named days, as an offset from today (the past ones only ever lead to "already past").
DAY_OFFSETS: Final[dict[str, int]] = {
    "ereyesterday": -2,
    "yesterday": -1,
    "today": 0,
    "tomorrow": 1,
    "overmorrow": 2,
}

# fmt: off
#: Adverbs that are a recurrence on their own: (kind, size) like UNITS.
ADVERBS: Final[dict[str, tuple[str, int]]] = {
    "hourly": ("s", 3600),
    "daily": ("d", 1), "quotidien": ("d", 1), "quotidiennement": ("d", 1),
    "weekly": ("d", 7), "hebdomadaire": ("d", 7),
    "monthly": ("mo", 1), "mensuel": ("mo", 1), "mensuellement": ("mo", 1),
    "yearly": ("mo", 12), "annually": ("mo", 12), "annuel": ("mo", 12),
}
# fmt: on

#: Words a month-of-every-month phrase ends with: "de chaque mois", "of every month".
MONTH_WORDS: Final = frozenset({"month", "months", "mois"})

#: cron's @-shortcuts, spelled out.
CRON_ALIASES: Final[dict[str, str]] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
