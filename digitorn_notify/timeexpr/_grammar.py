"""From tokens to slots: read a sentence and fill a :class:`Parts`.

The grammar is a small hand-written recogniser rather than one regex per
phrase: each token is looked at once, a rule for its word consumes the phrase it
starts ("in 1 hour and 30 minutes", "du lundi au vendredi", "le 1er avril 2027")
and records what it means in a slot. Word order is therefore free ("9am
tomorrow" is "tomorrow at 9am"), yet nothing is skipped silently: a token no
rule takes, or a slot given twice, refuses the whole text. Turning slots into a
result is :mod:`._resolve`'s job.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Final

from digitorn_notify.timeexpr._errors import Reject
from digitorn_notify.timeexpr._lexicon import (
    ADVERBS,
    AMOUNTS,
    DAY_OFFSETS,
    DAY_PARTS,
    FRACTIONS,
    MONTH_NAMES,
    MONTH_WORDS,
    MONTHS,
    ORDINAL_SUFFIXES,
    ORDINAL_WORDS,
    UNITS,
    WEEKDAYS,
)
from digitorn_notify.timeexpr._tokens import Clock, Span, Token, read_span, read_time

MONDAY_TO_FRIDAY: Final = frozenset(range(5))
WEEKEND: Final = frozenset({5, 6})


class Parts:
    """The slots a text fills; None means "not said"."""

    __slots__ = (
        "day",
        "dom",
        "every",
        "month",
        "next_weekday",
        "part",
        "recurring",
        "relative",
        "times",
        "weekday",
        "weekdays",
        "year",
    )

    def __init__(self) -> None:
        self.relative: Span | None = None  # "in 2 hours"
        self.every: Span | None = None  # "every 2 hours"
        self.recurring = False  # "every", "tous les", a plural weekday, a weekday range
        self.times: list[Clock] = []
        self.part: str | None = None  # "morning", "afternoon", "evening"
        self.day: int | None = None  # days from today: "tomorrow" is 1
        self.weekday: int | None = None  # one weekday, Monday is 0
        self.next_weekday = False  # "next friday": never today
        self.weekdays: frozenset[int] | None = None  # several, or plural: recurring
        self.dom: int | None = None
        self.month: int | None = None
        self.year: int | None = None


Rule = Callable[["Grammar"], None]


class Grammar:
    """Walks the tokens once, letting the rule of each leading token consume its phrase."""

    __slots__ = ("i", "parts", "tokens")

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.parts = Parts()

    def run(self) -> Parts:
        """Consume every token, or raise :class:`Reject`."""
        tokens = self.tokens
        while self.i < len(tokens):
            token = tokens[self.i]
            if isinstance(token, str):
                rule = _RULES.get(token)
                if rule is None:
                    if token in WEEKDAYS:
                        rule = Grammar.weekday
                    elif token in MONTHS:
                        rule = Grammar.month_first
                    elif token in DAY_PARTS:
                        rule = Grammar.day_part
                    else:
                        raise Reject(f"the word {token!r} is not understood")
                rule(self)
            elif isinstance(token, int):
                self.number()
            elif isinstance(token, Clock):
                self.times(bare=False)
            else:
                self.set("dom", token.day, "a date")
                self.set("month", token.month, "a date")
                self.set("year", token.year, "a date")
                self.i += 1
        return self.parts

    # -- helpers ---------------------------------------------------------------

    def at(self, offset: int = 0) -> Token | None:
        """The token ``offset`` places ahead, or None past the end."""
        index = self.i + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def token(self, index: int) -> Token | None:
        """The token at ``index``, or None past the end."""
        return self.tokens[index] if index < len(self.tokens) else None

    def set(self, slot: str, value: object, what: str) -> None:
        """Fill ``slot``, refusing a second, different value."""
        current = getattr(self.parts, slot)
        if current is not None and current != value:
            raise Reject(f"{what} is given twice")
        setattr(self.parts, slot, value)

    def add_weekdays(self, days: frozenset[int]) -> None:
        """Several weekdays, or a plural one: a weekly schedule."""
        if self.parts.weekdays is not None:
            raise Reject("the days of the week are given twice")
        self.parts.weekdays = days
        self.parts.recurring = True

    def postfix(self) -> bool:
        """Consume "from now", "later", "plus tard" if present."""
        first, second = self.at(), self.at(1)
        if (first == "from" and second == "now") or (first == "plus" and second == "tard"):
            self.i += 2
            return True
        if first in ("later", "hence"):
            self.i += 1
            return True
        return False

    def span(self, *, amount_optional: bool) -> Span | None:
        """Read an amount of time here and move past it; None (nothing consumed) if absent."""
        found = read_span(self.tokens, self.i, amount_optional=amount_optional)
        if found is None:
            return None
        span, self.i = found
        return span

    def times(self, *, bare: bool) -> bool:
        """Read one time of day or a list ("at 9am and 5pm"); False if there is none."""
        found = read_time(self.tokens, self.i, bare=bare)
        if found is None:
            return False
        while found is not None:
            clock, self.i = found
            self.parts.times.append(clock)
            found = None
            if self.at() in ("and", ","):
                found = read_time(self.tokens, self.i + 1, bare=bare)
        return True

    # -- rules, one per leading word -------------------------------------------

    def number(self) -> None:
        """A phrase led by a number: "5 minutes from now", "9am", "14h30", "1er avril"."""
        start = self.i
        span = self.span(amount_optional=False)
        if span is not None:
            if self.postfix():
                self.set("relative", span, "a delay")
                return
            self.i = start
        if self.times(bare=False):
            return
        following = self.at(1)
        if following in ORDINAL_SUFFIXES or following in MONTHS or following == "of":
            self.day_of_month()
            return
        if span is not None:
            raise Reject("a duration needs 'in' before it or 'from now' after it ('in 5 minutes')")
        raise Reject(
            "a lone number is ambiguous; write 'in 5 minutes', 'at 5pm', 'à 17h',"
            " 'le 5 à 9h' or a cron expression such as '*/5 * * * *'"
        )

    def day_of_month(self) -> None:
        """ "1er avril [2027]", "the 1st of April", "15 mars", "le 1er de chaque mois"."""
        token = self.at()
        dom = token if isinstance(token, int) else ORDINAL_WORDS[str(token)]
        self.i += 1
        if self.at() in ORDINAL_SUFFIXES:
            self.i += 1
        if self.at() == "of" and self.at(1) in MONTHS:
            self.i += 1
        month_word = self.at()
        month = year = None
        if isinstance(month_word, str) and month_word in MONTHS:
            month = MONTHS[month_word]
            self.i += 1
            year = self.year_after()
        else:
            self.every_month()
        self.set_date(dom, month, year)

    def month_first(self) -> None:
        """ "april 1st", "April 1, 2027"."""
        month = MONTHS[str(self.at())]
        day = self.at(1)
        if not isinstance(day, int):
            raise Reject("a month needs its day: 'april 1st', 'le 1er avril'")
        self.i += 2
        if self.at() in ORDINAL_SUFFIXES:
            self.i += 1
        self.set_date(day, month, self.year_after())

    def year_after(self) -> int | None:
        """A four-digit year right after a date ("1 avril 2027", "April 1, 2027"), if any."""
        offset = 1 if self.at() == "," else 0
        year = self.at(offset)
        if isinstance(year, int) and year >= 1000:
            self.i += offset + 1
            return year
        return None

    def every_month(self) -> None:
        """ "of every month", "of the month", "de chaque mois", "de tous les mois"."""
        index = self.i
        if self.token(index) != "of":
            return
        index += 1
        if self.token(index) == "every":
            index += 1
            if self.token(index) in ("les", "the"):
                index += 1
        elif self.token(index) == "the":
            index += 1
        if self.token(index) in MONTH_WORDS:
            self.i = index + 1
            self.parts.recurring = True  # a day of the month alone then repeats monthly

    def set_date(self, dom: int, month: int | None, year: int | None) -> None:
        """Record a day of month (with its month and year, if said), checking it exists."""
        if not 1 <= dom <= 31:
            raise Reject(f"day {dom} is out of range (1-31)")
        if year is not None and not 1000 <= year <= 9999:
            raise Reject(f"year {year} is out of range")
        if month is not None:
            try:
                date(year if year is not None else 2028, month, dom)  # 2028 has a 29 February
            except ValueError:
                if year is not None:
                    raise Reject(f"{year}-{month:02d}-{dom:02d} is not a date") from None
                raise Reject(f"{MONTH_NAMES[month]} {dom} does not exist") from None
        self.set("dom", dom, "a day of the month")
        self.set("month", month, "a month")
        self.set("year", year, "a year")

    def in_(self) -> None:
        """ "in 5 minutes", "dans 1h30", "in the morning"."""
        self.i += 1
        if self.at() == "the" and self.at(1) in DAY_PARTS:
            self.i += 1
            self.day_part()
            return
        span = self.span(amount_optional=False)
        if span is None:
            raise Reject("'in' needs an amount of time, such as 'in 5 minutes' or 'dans 2 jours'")
        self.set("relative", span, "a delay")
        self.postfix()

    def every(self) -> None:
        """ "every", "chaque", "tous les": a recurrence, then its unit or its days."""
        self.i += 1
        if self.at() in ("les", "the"):
            self.i += 1
        self.parts.recurring = True
        following = self.at(1)
        if self.at() == "week" and following in ("end", "ends"):
            self.i += 2
            self.add_weekdays(WEEKEND)
            return
        if self.at() == "working" and isinstance(following, str) and following in UNITS:
            self.i += 2
            self.add_weekdays(MONDAY_TO_FRIDAY)
            return
        if self.at() == "other":
            self.every_other()
            return
        span = self.span(amount_optional=True)
        if span is not None:
            self.set("every", span, "a recurrence")
            if span == Span(days=1) and self.at() == "workdays":
                self.i += 1  # "tous les jours ouvrés"
                self.add_weekdays(MONDAY_TO_FRIDAY)

    def every_other(self) -> None:
        """ "every other day", "every other monday": twice the unit, a weekday fortnightly."""
        self.i += 1
        word = self.at()
        if isinstance(word, str) and word in WEEKDAYS:
            self.set("every", Span(days=14), "a recurrence")  # the weekday rule reads the day
            return
        span = self.span(amount_optional=True) if word in UNITS else None
        if span is None:
            raise Reject("'every other' needs a unit or a weekday: 'every other day'")
        self.set("every", Span(*(2 * amount for amount in span)), "a recurrence")

    def adverb(self) -> None:
        """ "daily", "hourly", "weekly", "quotidiennement"."""
        kind, size = ADVERBS[str(self.at())]
        self.i += 1
        self.parts.recurring = True
        span = {"s": Span(seconds=size), "d": Span(days=size), "mo": Span(months=size)}[kind]
        self.set("every", span, "a recurrence")

    def weekday(self) -> None:
        """ "monday", "lundis", "monday and thursday", "lundi au vendredi", "friday next"."""
        day, plural = WEEKDAYS[str(self.at())]
        self.i += 1
        last = self.at(1)
        if self.at() in ("to", "a") and isinstance(last, str) and last in WEEKDAYS:
            self.i += 2
            end = WEEKDAYS[last][0]
            span = (end - day) % 7
            self.add_weekdays(frozenset((day + step) % 7 for step in range(span + 1)))
            return
        days = {day}
        while self.at() in ("and", ","):
            other = self.at(1)
            if not (isinstance(other, str) and other in WEEKDAYS):
                break
            days.add(WEEKDAYS[other][0])
            plural = True
            self.i += 2
        if plural:
            self.add_weekdays(frozenset(days))
            return
        if self.at() == "next":
            self.i += 1
            self.parts.next_weekday = True
        self.set("weekday", day, "a day of the week")
        following = self.at()
        # "lundi 6 avril", "friday 13th": a day of the month right after the weekday.
        if (
            isinstance(following, int)
            and self.at(1) not in UNITS
            and read_time(self.tokens, self.i, bare=False) is None
        ):
            self.day_of_month()

    def day_part(self) -> None:
        """ "morning", "du soir", "in the evening"."""
        self.set("part", self.at(), "a part of the day")
        self.i += 1

    def named_day(self) -> None:
        """ "today", "demain", "après-demain"."""
        self.set("day", DAY_OFFSETS[str(self.at())], "a day")
        self.i += 1

    def tonight(self) -> None:
        """ "tonight": this evening."""
        self.set("day", 0, "a day")
        self.set("part", "evening", "a part of the day")
        self.i += 1

    def this(self) -> None:
        """ "this monday", "ce soir", "cet après-midi"."""
        self.i += 1
        word = self.at()
        if isinstance(word, str) and word in WEEKDAYS:
            self.weekday()
        elif word in DAY_PARTS or (word == "apres" and self.at(1) == "noon"):
            self.set("day", 0, "a day")
            if word == "apres":
                self.apres()
            else:
                self.day_part()
        else:
            raise Reject("'this' ('ce') needs a weekday or a part of the day: 'ce soir'")

    def next(self) -> None:
        """ "next friday", "lundi prochain" (the prochain is read by :meth:`weekday`)."""
        self.i += 1
        token = self.at()
        if not (isinstance(token, str) and token in WEEKDAYS):
            raise Reject("'next' needs a weekday ('next friday'); for a delay say 'in 1 week'")
        self.parts.next_weekday = True
        self.weekday()

    def apres(self) -> None:
        """ "après-demain", "après-midi"."""
        following = self.at(1)
        self.i += 2
        if following == "tomorrow":
            self.set("day", 2, "a day")
        elif following == "noon":
            self.set("part", "afternoon", "a part of the day")
        else:
            raise Reject("'après' needs 'demain' or 'midi'")

    def avant(self) -> None:
        """ "avant-hier": the day before yesterday."""
        if self.at(1) != "yesterday":
            raise Reject("'avant' is only understood in 'avant-hier'")
        self.i += 2
        self.set("day", -2, "a day")

    def day_word(self) -> None:
        """ "the day after tomorrow", "the day before yesterday"."""
        if self.at(1) == "after" and self.at(2) == "tomorrow":
            self.i += 3
            self.set("day", 2, "a day")
            return
        if self.at(1) == "before" and self.at(2) == "yesterday":
            self.i += 3
            self.set("day", -2, "a day")
            return
        raise Reject("a day needs a number: 'in 2 days', 'every day', 'tomorrow'")

    def at_(self) -> None:
        """ "at 9am", "à 9h", "@ 17:30", "vers midi"; a bare hour is 24-hour here."""
        start = self.i
        self.i += 1
        if self.times(bare=True):
            return
        self.i = start
        if self.at() == "a" and read_span(self.tokens, self.i, amount_optional=False):
            self.spelled()  # "a minute from now": the English article, not "à"
            return
        raise Reject("'at' ('à') needs a time: 'at 9am', 'at 17:30', 'à 9h', 'à midi'")

    def named_time(self) -> None:
        """ "noon", "midi", "minuit" said without "at"."""
        self.times(bare=False)

    def spelled(self) -> None:
        """ "two hours from now", "half an hour later"."""
        span = self.span(amount_optional=False)
        if span is None or not self.postfix():
            raise Reject(
                "a spelled-out amount needs a unit and 'in' before it or 'from now' after it"
                " ('in two hours', 'dans une heure')"
            )
        self.set("relative", span, "a delay")

    def the(self) -> None:
        """ "the", "le", "on": a filler, except before a day of the month."""
        self.i += 1
        token = self.at()
        if isinstance(token, int) or token in ORDINAL_WORDS:
            self.day_of_month()

    def of(self) -> None:
        """ "du matin", "de l'après-midi", "du lundi au vendredi"."""
        self.i += 1
        word = self.at()
        if word in DAY_PARTS:
            self.day_part()
        elif word == "apres" and self.at(1) == "noon":
            self.apres()
        elif isinstance(word, str) and word in WEEKDAYS and self.at(1) in ("to", "a"):
            self.weekday()
        else:
            raise Reject("'of' ('de', 'du') is not understood here")

    def from_(self) -> None:
        """ "from monday to friday"."""
        self.i += 1
        token = self.at()
        if not (isinstance(token, str) and token in WEEKDAYS and self.at(1) in ("to", "a")):
            raise Reject("'from' needs a range of days: 'from monday to friday'")
        self.weekday()

    def week(self) -> None:
        """ "week-end"."""
        if self.at(1) not in ("end", "ends"):
            raise Reject("a week needs a number: 'in 1 week', 'every week'")
        self.i += 2
        self.add_weekdays(WEEKEND)

    def en(self) -> None:
        """ "en semaine": Monday to Friday."""
        if self.at(1) != "semaine":
            raise Reject("'en' is only understood in 'en semaine'")
        self.i += 2
        self.add_weekdays(MONDAY_TO_FRIDAY)

    def weekdays(self) -> None:
        """ "weekdays", "weekends"."""
        self.add_weekdays(MONDAY_TO_FRIDAY if self.at() == "weekday" else WEEKEND)
        self.i += 1

    def skip(self) -> None:
        """A word that adds nothing here: "on", "les", a comma."""
        self.i += 1


_RULES: Final[dict[str, Rule]] = {
    "in": Grammar.in_,
    "every": Grammar.every,
    "at": Grammar.at_,
    "a": Grammar.at_,
    "the": Grammar.the,
    "on": Grammar.the,
    "of": Grammar.of,
    "from": Grammar.from_,
    "this": Grammar.this,
    "next": Grammar.next,
    "apres": Grammar.apres,
    "avant": Grammar.avant,
    "day": Grammar.day_word,
    "tonight": Grammar.tonight,
    "week": Grammar.week,
    "en": Grammar.en,
    "weekday": Grammar.weekdays,
    "weekend": Grammar.weekdays,
    "noon": Grammar.named_time,
    "midnight": Grammar.named_time,
    "les": Grammar.skip,
    ",": Grammar.skip,
    **dict.fromkeys(AMOUNTS.keys() - {"a", "sept"}, Grammar.spelled),
    **dict.fromkeys(FRACTIONS, Grammar.spelled),
    **dict.fromkeys(DAY_OFFSETS, Grammar.named_day),
    **dict.fromkeys(ADVERBS, Grammar.adverb),
    **dict.fromkeys(ORDINAL_WORDS, Grammar.day_of_month),
}
