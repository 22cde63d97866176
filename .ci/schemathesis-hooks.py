"""Schemathesis hooks for .ci/schemathesis: where a rule depends on stored data or on the day,
which no schema can state, a generated value that the document allows is replaced by one of the
seeded objects (or a day the rule takes), so that valid requests reach the use case and must be
accepted. Only values valid for their field are replaced, and only by valid ones: a request the
document refuses stays refused, one it allows stays allowed.

The seeded values come from the JSON file named by FAILFORWARD_ST_SEEDED
(written by .ci/schemathesis-seed.py).
"""

import datetime
import itertools
import json
import os
import re

import schemathesis

with open(os.environ["FAILFORWARD_ST_SEEDED"]) as seeded_file:
    SEEDED = json.load(seeded_file)

# `Email::parse` as the document's pattern states it (contract.rs, EMAIL).
EMAIL = re.compile(r"^\s*[^\s\x00-\x1f\x7f-\x9f]+@[^\s@.\x00-\x1f\x7f-\x9f]+(\.[^\s@.\x00-\x1f\x7f-\x9f]+)*\s*$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def whole(value, low, high):
    """Whether `value` is a JSON Schema integer (`5.0` is one) in [low, high)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and float(value).is_integer()
        and low <= value < high
    )


def day(value):
    """The day a `format: date` value names, or None when it is not one."""
    if not isinstance(value, str) or not DATE.match(value):
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        return None


def start_review(body):
    # Any `loop_id` that is not blank names a loop: one of the team's.
    if isinstance(body.get("loop_id"), str) and body["loop_id"].strip():
        body["loop_id"] = SEEDED["loop_id"]


def recognise(body):
    # The receiver must be a member of this team; any string is a valid id.
    if isinstance(body.get("receiver_id"), str):
        body["receiver_id"] = SEEDED["peer_id"]
    # The expectation it honours, when named, is one of the team's in force.
    if isinstance(body.get("expectation_id"), str) and body["expectation_id"].strip():
        body["expectation_id"] = SEEDED["expectation_id"]


def add_member(body):
    # The address must belong to an account.
    if isinstance(body.get("email"), str) and EMAIL.match(body["email"]) and len(body["email"]) <= 254:
        body["email"] = SEEDED["member_email"]


def ballot(body):
    # Dots go on this session's cards, at most the session's dots in all; any map of int32 counts
    # of at least 0 is valid.
    dots = body.get("dots")
    if isinstance(dots, dict) and all(whole(n, 0, 2**31) for n in dots.values()):
        body["dots"] = {SEEDED["card_id"]: 1}


TEXTS = itertools.count(1)


def dismiss(body):
    # The rule must be a finding at `start` in `text`, not dismissed yet (a dismissed finding is
    # no longer reported); any strings and int64 are valid. Each request gets a text of its own
    # that holds the seeded finding at the same place.
    if (
        isinstance(body.get("text"), str)
        and isinstance(body.get("rule"), str)
        and whole(body.get("start"), -(2**63), 2**63)
    ):
        finding = SEEDED["finding"]
        body.update(text=f"{finding['text']} Note {next(TEXTS)}.", rule=finding["rule"], start=finding["start"])


def open_round(body):
    # A round closes today or later, and before the calendar's last day (whose end cannot be
    # reached); any other valid day becomes a week from today.
    closes = day(body.get("closes_on"))
    if closes is not None and (closes < datetime.date.today() or closes == datetime.date.max):
        body["closes_on"] = (datetime.date.today() + datetime.timedelta(days=7)).isoformat()


# `when::parse_instant` as the document's pattern states it (contract.rs, OPTIONAL_INSTANT).
INSTANT = re.compile(
    r"^\s*([0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    r"(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?"
    r"| ([01][0-9]|2[0-3]):[0-5][0-9]"
    r"|T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?)?\s*$"
)


def instant(value):
    """The UTC instant a valid, non-blank instant field names; "blank" when it is blank; None
    when it is not valid (or names a year Python cannot hold, which is long past)."""
    if not isinstance(value, str) or not INSTANT.match(value):
        return None
    text = value.strip()
    if not text:
        return "blank"
    text = re.sub(r"(\.[0-9]{6})[0-9]+", r"\1", text).replace(" ", "T")
    try:
        at = datetime.datetime.fromisoformat(text)
    except ValueError:
        return datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)
    if at.tzinfo is None:
        at = at.replace(tzinfo=datetime.timezone.utc)
    return at


def capture(body):
    # `noticed_at` (default: now) must not be in the future, and `happened_at` not after it:
    # rules on the clock and between two fields, which the document describes but no schema can
    # state. Valid instants that break them become valid ones that keep them.
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1)
    stamp = lambda at: at.strftime("%Y-%m-%dT%H:%M:%SZ")
    noticed = instant(body.get("noticed_at"))
    if isinstance(noticed, datetime.datetime) and (noticed > now or noticed.year == 1):
        # (Year 1 also stands for years Python cannot hold, before which nothing can happen.)
        body["noticed_at"], noticed = stamp(now), now
    if not isinstance(noticed, datetime.datetime):
        # Left out or blank, it is now (an anonymous loop's: today, or `happened_at` if later).
        noticed = now
    happened = instant(body.get("happened_at"))
    if isinstance(happened, datetime.datetime) and happened > noticed:
        earlier = noticed - datetime.timedelta(minutes=1)
        body["happened_at"] = stamp(earlier)


def design(body):
    # A loop it comes from is one of the team's: any string that is not blank names one.
    if isinstance(body.get("source_loop_id"), str) and body["source_loop_id"].strip():
        body["source_loop_id"] = SEEDED["loop_id"]
    # An experiment is decided on or after its start: two valid days in the wrong order are swapped.
    starts, decide = day(body.get("starts_on")), day(body.get("decide_by"))
    if starts is not None and decide is not None and decide < starts:
        body["starts_on"], body["decide_by"] = body["decide_by"], body["starts_on"]


BY_OPERATION = {
    "POST /api/v1/teams/{slug}/reviews": start_review,
    "POST /api/v1/teams/{slug}/recognitions": recognise,
    "POST /api/v1/teams/{slug}/members": add_member,
    "POST /api/v1/teams/{slug}/reviews/{review_id}/ballot": ballot,
    "POST /api/v1/lint/dismissals": dismiss,
    "POST /api/v1/teams/{slug}/pulse-rounds": open_round,
    "POST /api/v1/teams/{slug}/loops": capture,
    "POST /api/v1/teams/{slug}/experiments": design,
    "PUT /api/v1/teams/{slug}/experiments/{experiment_id}": design,
}


@schemathesis.hook
def map_case(ctx, case):
    fill = BY_OPERATION.get(case.operation.label)
    if fill is not None and isinstance(case.body, dict):
        fill(case.body)
    return case
