#!/usr/bin/env python3
"""Seeds a running failforward with one object of each kind through its JSON API, so that
Schemathesis reaches real objects, and writes the Schemathesis configuration naming them.

Usage: schemathesis-seed.py BASE_URL ADMIN_TOKEN CONFIG_OUT SEEDED_OUT
SEEDED_OUT receives, as JSON, the values .ci/schemathesis-hooks.py puts into request bodies.
Only the standard library: it runs before (and apart from) Schemathesis' own environment.
"""

import datetime
import json
import sys
import urllib.error
import urllib.request

base, token, config_out, seeded_out = sys.argv[1:5]


def call(method, path, body=None, expect=(200, 201, 204)):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    if status not in expect:
        sys.exit(f"seed: {method} {path} answered {status}: {text}")
    return json.loads(text) if text.strip() else None


today = datetime.date.today()
quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
an_hour_ago = (now - datetime.timedelta(hours=1)).isoformat()

me = call("GET", "/api/v1/me")
call("POST", "/api/v1/teams", {"name": "Seed", "description": "Objects for Schemathesis"})
slug = "seed"
team = f"/api/v1/teams/{slug}"
call("POST", f"{team}/members", {"email": "member@example.org", "role": "member"})
members = call("GET", f"{team}/members")
member_id = next(m["user_id"] for m in members if m["email"] == "member@example.org")
# A second member, for recognitions: the run may remove the first (`DELETE …/members/{user_id}`).
call("POST", f"{team}/members", {"email": "peer@example.org", "role": "member"})
members = call("GET", f"{team}/members")
peer_id = next(m["user_id"] for m in members if m["email"] == "peer@example.org")
invitation = call("POST", f"{team}/invitations", {"role": "member", "email": "guest@example.org"})
organisation_invitation = call("POST", "/api/v1/invitations", {"email": "newcomer@example.org"})

created = call(
    "POST",
    f"{team}/loops",
    {
        "title": "Checkout failed after the deploy",
        "what_happened": "Payments returned errors for ten minutes.",
        "what_was_expected": "A quiet deploy.",
        "happened_at": an_hour_ago,
        "tags": ["payments"],
    },
)
loop_id = created["id"]
anonymous = call(
    "POST",
    f"{team}/loops",
    {"title": "A near miss", "what_happened": "A backup nearly ran out of space.", "anonymous": True},
)
reporter_secret = anonymous["reporter_link"].rstrip("/").rsplit("/", 1)[-1]
loop = f"{team}/loops/{loop_id}"
call("POST", f"{loop}/timeline", {"occurred_at": an_hour_ago, "description": "The deploy started."})
call("POST", f"{loop}/factors", {"reason": "process_inadequacy", "description": "No canary stage."})
call("POST", f"{loop}/learnings", {"statement": "Canary deploys catch payment errors."})
call("POST", f"{loop}/actions", {"title": "Add a canary stage", "due_on": today.isoformat()})
detail = call("GET", loop)
factor_id = detail["factors"][0]["id"]
action_id = call("GET", f"{team}/actions")[0]["id"]

review = call("POST", f"{team}/reviews", {"loop_id": loop_id, "prompt": "What surprised us?"})
review_id = review["id"]
call("POST", f"{team}/reviews/{review_id}/participants", {})
call("POST", f"{team}/reviews/{review_id}/advance", {"from": "open_actions"})
card = call("POST", f"{team}/reviews/{review_id}/cards", {"kind": "observation", "text": "The alerts were quiet."})
card_id = card.get("id") or card.get("card_id")



def review_in_vote(prompt):
    """A free session of one participant (the admin), with one card, in its vote phase."""
    started = call("POST", f"{team}/reviews", {"prompt": prompt})
    path = f"{team}/reviews/{started['id']}"
    call("POST", f"{path}/participants", {}, expect=(200, 201, 204, 409))
    call("POST", f"{path}/advance", {"from": "open_actions"})
    made = call("POST", f"{path}/cards", {"kind": "observation", "text": "The pager stayed quiet."})
    call("PUT", f"{path}/done", {"done": True})
    for phase in ("reveal", "group"):
        call("POST", f"{path}/advance", {"from": phase})
    return started["id"], made.get("id") or made.get("card_id")


# Sessions of their own for the ballot and dissent, which the runs of other operations on the
# first session (advance, close) would otherwise move past the phase they need.
vote_review_id, vote_card_id = review_in_vote("Where do our dots go?")
decided_review_id, decided_card_id = review_in_vote("What do we change?")
decided = f"{team}/reviews/{decided_review_id}"
call("POST", f"{decided}/ballot", {"dots": {decided_card_id: 1}})
call("POST", f"{decided}/advance", {"from": "discuss"})
decision_id = call(
    "POST",
    f"{decided}/decisions",
    {"card_id": decided_card_id, "kind": "action", "text": "Page the on-call for quiet alerts"},
)["id"]

experiment = call(
    "POST",
    f"{team}/experiments",
    {
        "title": "Same-day refunds",
        "believe": "customers value same-day refunds",
        "verify_by": "offering them to 5% of customers",
        "measure": "uptake",
        "right_if": "at least 3% opt in",
        "new_territory": "yes",
        "real_goal": "yes",
        "informed": "yes",
        "as_small_as_possible": "yes",
        "currency": "EUR",
        "money_minor": 10000,
        "days_tenths": 15,
        "reversibility": "full",
        "reputation_scope": "customers",
        "kill_criteria": "more than 20 complaints",
        "starts_on": today.isoformat(),
        "decide_by": (today + datetime.timedelta(days=14)).isoformat(),
    },
)
experiment_id = experiment["id"]
reason = call(
    "POST",
    f"{team}/experiments/{experiment_id}/premortem/reasons",
    {"reason": "Support cannot keep up.", "show_name": True},
)
item_id = reason["premortem"]["mine"][0]["id"]

round_ = call("POST", f"{team}/pulse-rounds", {"closes_on": (today + datetime.timedelta(days=7)).isoformat()})
round_id = round_["id"]
call(
    "POST",
    f"{team}/recognitions",
    {"receiver_id": member_id, "behaviour": "raised the alarm early", "impact": "we rolled back fast"},
)
# An expectation in force for recognitions to name: the run retires only expectations it made
# itself (the path's `expectation_id` is not pinned).
expectation = call("POST", f"{team}/expectations", {"text": "We log a failure within a day of noticing it."})
# A ritual schedule, so that shares reach the round's rules.
call("PUT", f"{team}/rituals/schedule", {"cadence": "weekly", "weekday": "monday"})
call("POST", "/api/v1/lint/terms", {"category": "blame_person", "phrase": "dropped the ball"})
rules = call("GET", "/api/v1/lint/rules")
term_id = rules["terms"][0]["id"]
rule_id = rules["rules"][0]["id"]

# A finding to dismiss, of a built-in rule other than the one the run may switch off and not
# of the custom term it may delete.
finding_text = "The outage happened because of human error."
finding = next(
    f for f in call("POST", "/api/v1/lint", {"text": finding_text})["findings"] if f["rule"] != rule_id
)

parameters = {
    "slug": slug,
    "loop_id": loop_id,
    "factor_id": factor_id,
    "action_id": action_id,
    "review_id": review_id,
    "card_id": card_id,
    "experiment_id": experiment_id,
    "item_id": item_id,
    "round_id": round_id,
    "user_id": member_id,
    "quarter": quarter,
    "term_id": term_id,
    "rule_id": rule_id,
    "secret": reporter_secret,
    "id": invitation.get("id"),
}
missing = [name for name, value in parameters.items() if not value]
if missing:
    sys.exit(f"seed: no value for {', '.join(missing)}")
with open(config_out, "w") as out:
    out.write("# Written by .ci/schemathesis-seed.py: the seeded objects' ids.\n[parameters]\n")
    for name, value in parameters.items():
        out.write(f'"path.{name}" = {json.dumps(str(value))}\n')
    # The ballot and the dissent go to the sessions seeded for them, and withdrawing an
    # invitation to the organisation to the open one seeded for it (`path.id` above is the
    # team's invitation).
    for operation, values in [
        ("DELETE /api/v1/invitations/{id}", {"id": organisation_invitation["id"]}),
        ("POST /api/v1/teams/{slug}/reviews/{review_id}/ballot", {"review_id": vote_review_id}),
        (
            "POST /api/v1/teams/{slug}/reviews/{review_id}/decisions/{decision_id}/dissents",
            {"review_id": decided_review_id, "decision_id": decision_id},
        ),
    ]:
        out.write(f"\n[[operations]]\ninclude-name = {json.dumps(operation)}\n[operations.parameters]\n")
        for name, value in values.items():
            out.write(f'"path.{name}" = {json.dumps(str(value))}\n')
    out.write("\n")
with open(seeded_out, "w") as out:
    json.dump(
        {
            "loop_id": loop_id,
            "peer_id": peer_id,
            "expectation_id": expectation["id"],
            "member_email": "member@example.org",
            "card_id": vote_card_id,
            "finding": {"text": finding_text, "rule": finding["rule"], "start": finding["start"]},
        },
        out,
    )
print(f"seed: team {slug}, loop {loop_id}, review {review_id}, experiment {experiment_id}")
