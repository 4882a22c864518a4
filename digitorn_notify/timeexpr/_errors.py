"""How a rejected time expression is reported.

Inside the package a rejection is a private :class:`Reject` carrying only the
reason; :func:`~digitorn_notify.timeexpr.parse_time_expression` turns it into one
:class:`~digitorn_notify.errors.TimeExpressionError` whose message quotes the
text, gives the reason and lists the accepted forms, so every error reads the same.
"""

from __future__ import annotations

from typing import Final

from digitorn_notify.errors import TimeExpressionError

ACCEPTED_FORMS: Final = """\
Accepted forms (English or French, any case, accents optional):
  relative   'in 5m', 'in 1 hour and 30 minutes', 'dans 1h30', 'dans 2 jours à 9h'
  absolute   'tomorrow at 9am', 'demain à 9h', 'at 17:30', 'next friday at 12pm',
             'lundi prochain à 14h30', 'le 1er avril à 9h', 'à minuit'
  ISO 8601   '2026-03-30T09:00:00+02:00', '2026-03-30 09:00' (read in the given zone)
  recurring  'every Monday at 10am', 'tous les lundis à 10h', 'every weekday at 8:15',
             'du lundi au vendredi à 8h15', 'toutes les 15 minutes', 'every 90 minutes',
             'le 1er de chaque mois à 9h'
  cron       '*/5 * * * *' (5 fields: minute hour day-of-month month day-of-week)"""


class Reject(Exception):  # noqa: N818 - private, never escapes the package
    """A time expression was refused; ``reason`` says why, in a few words."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def describe(text: str, reason: str) -> str:
    """The full message for ``text`` refused because of ``reason``."""
    return f"cannot read {text!r} as a time: {reason}.\n{ACCEPTED_FORMS}"


def error(text: str, reason: str) -> TimeExpressionError:
    """A :class:`TimeExpressionError` for ``text`` refused because of ``reason``."""
    return TimeExpressionError(describe(text, reason))
