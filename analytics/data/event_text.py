"""The text of the demo's support tickets and leavers' feedback: template pools by tone and
topic, with {slots} filled from SLOTS, and `pick`, which fills them vectorised (one draw
per row into index arrays, no Python loop over millions of rows)."""

from __future__ import annotations

import string

import numpy as np

# ---- Text: "|"-separated template pools, {slots} filled from SLOTS ---------------------------
SLOTS: dict[str, tuple[str, ...]] = {
    "device": ("phone", "router", "modem", "SIM card", "handset", "set-top box", "hotspot"),
    "month": tuple("January February March April May June July August September October "
                   "November December".split()),
    "weekday": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "amount": ("$10", "$12.50", "$15", "$20", "$25", "$30", "$45", "$60"),
    "place": ("at home", "in the kitchen", "downtown", "at work", "on the highway",
              "in the basement", "near the station"),
    "days": ("two days", "three days", "a week", "ten days", "two weeks", "a month"),
    "speed": ("1 Mbps", "2 Mbps", "5 Mbps", "10 Mbps"), "agent": ("the agent", "your rep"),
    "plan": ("the Fiber Plus plan", "a cheaper plan", "the unlimited plan", "the family plan"),
}
# tone -> one pool per category, in CATEGORIES order.
TICKET_TEMPLATES: dict[str, tuple[str, ...]] = {
    "negative": (
        "Charged twice for {month}, please refund|My bill went up by {amount} without any "
        "notice|A {amount} fee on my {month} invoice I never agreed to|Still waiting for the "
        "refund of {amount} promised {days} ago|Third call about the wrong {month} charge. Fix "
        "it or I cancel|Autopay took {amount} more than the bill says, unacceptable|Prices keep "
        "rising, {amount} extra for the same bad service|The discount promised in {month} never "
        "showed up on my bill|Late fee of {amount} although I paid on time. Very frustrated",
        "My {device} keeps dropping calls since {month}|Internet drops every evening {place}, "
        "for {days} now|Speed is down to {speed} most of the day, I pay for much more|No signal "
        "{place} since {month}, useless service|Outage again on {weekday}, the third one in "
        "{days}|Calls cut off after a minute {place}. Fix your network|Connection so slow I "
        "cannot work from home, {days} now|Video calls freeze constantly, I get {speed} at best|"
        "Dropped calls all the time {place}, thinking about switching",
        "The {device} you sent in {month} is already broken|My {device} overheats and restarts "
        "every day|Replacement {device} still not delivered after {days}|The technician never "
        "showed up to fix my {device} on {weekday}|The {device} has blinked red for {days} and "
        "nobody helps|Charged for a {device} I returned in {month}|Setup of the new {device} "
        "failed twice, a waste of my time|Your {device} update broke my connection",
        "Locked out for {days}, the password reset never arrives|I asked to change my plan in "
        "{month} and nothing happened|Someone changed my account details without my consent|"
        "Waited on hold for over an hour and got disconnected|Promised a callback on {weekday} "
        "by {agent}, nobody called|Transferred five times and still no answer about my contract|"
        "Your app keeps logging me out and support is useless|How do I cancel my contract? This "
        "is the last straw",
        "Very disappointed with the service since {month}|Nobody answers my e-mails, it has been "
        "{days}|Worst customer service I have had, considering other providers|The staff "
        "{place} were rude and unhelpful|The {month} offer was misleading, I want to complain|I "
        "have reported the same problem for {days} with no fix|Thinking of leaving, a competitor "
        "offers more for less|Sick of the upselling calls every {weekday}",
    ),
    "neutral": (
        "Please explain the charges on my {month} bill|How do I switch to paperless billing?|"
        "Request a copy of the {month} invoice|I would like to update my card for autopay|Can I "
        "move my payment date?",
        "Is there planned maintenance {place} on {weekday}?|What speed should I get with "
        "{plan}?|Checking coverage {place} before I travel|Router settings question for my "
        "{device}",
        "How do I set up the new {device}?|Need instructions to reset my {device}|Is my "
        "{device} compatible with your network?|Where can I return the old {device}?",
        "Please update my address, I am moving in {month}|Add a second user to my account|How "
        "do I change to {plan}?|Question about my contract end date",
        "General question about your services|Do you have a store {place}?|Please send me the "
        "details of current offers|Can I pause my service in {month}?",
    ),
    "positive": (
        "Thanks for fixing the {month} bill so quickly|Refund of {amount} received, thank you|"
        "Billing issue sorted in one call, great",
        "Speed is great since the upgrade in {month}|Coverage {place} is much better now, "
        "thanks|Outage fixed fast, much appreciated",
        "The new {device} works perfectly, thanks|Quick and friendly setup of my {device}|"
        "Replacement {device} arrived in {days}, great service",
        "The change to {plan} went smoothly|Thanks for the help with my account|Login fixed, "
        "thank you for the quick reply",
        "Very happy with the service, keep it up|Great support from {agent}, thank you|Thanks "
        "for the loyalty offer in {month}, I love it",
    ),
}
FEEDBACK_TEMPLATES: tuple[str, ...] = (  # one pool per reason, in REASONS order
    "Too expensive, my bill is {amount} more than when I joined|Found a cheaper plan elsewhere|"
    "Cannot afford the monthly price anymore|The price rise in {month} was the last straw",
    "Switched to a competitor with faster internet|Got a better offer from another provider|A "
    "competitor gave me a free {device} and a lower price|Moving to a provider with better "
    "coverage {place}",
    "Customer service never solved my problems|Waited {days} for a fix, never again|Support was "
    "rude and unhelpful|Too many unresolved complaints",
    "Calls kept dropping {place}|No signal {place}|Internet too slow, {speed} at best|Outages "
    "every week since {month}",
    "Moving abroad in {month}|Moved to an area you do not cover|Relocating for work, no longer "
    "need the service",
    "Personal reasons|Not using the service enough|No longer need a landline|Combining "
    "services with my partner's provider",
)


# ---- Helpers (also used by analytics.data.saas) ---------------------------------------------
def pick(rng, pools, group: np.ndarray, slots: dict[str, tuple[str, ...]]) -> np.ndarray:
    """Per row a random template of the "|"-separated ``pools[group[i]]``, {slots} filled at
    random: a loop over the templates (dozens), never over the rows."""
    pools = [pool.split("|") for pool in pools]
    size = np.array([len(pool) for pool in pools])
    which = (np.cumsum(size) - size)[group] + (rng.random(len(group)) * size[group]).astype(int)
    out = np.empty(len(group), dtype=object)
    for k, template in enumerate(t for pool in pools for t in pool):
        rows = np.flatnonzero(which == k)
        text = np.full(len(rows), "", dtype=object)
        for literal, field, _, _ in string.Formatter().parse(template):
            text = text + literal
            if field is not None:
                vocab = np.array(slots[field], dtype=object)
                text = text + vocab[rng.integers(len(vocab), size=len(rows))]
        out[rows] = text
    return out


# ---- Tables ---------------------------------------------------------------------------------