"""Writes of the consent registry, and the one decision function. Callers import from here:

from consent.services import check, check_many, inbound_keyword, inbound_recorded, send_recorded
"""

from .decisions import (
    FACT_FIELDS,
    ContactFacts,
    Decision,
    SendRequest,
    check,
    check_many,
    contact_facts,
    conversation_window,
    decide_sends,
    quiet_until,
    wall_to_instant,
)
from .keywords import KeywordResult, inbound_keyword, keyword_match, keyword_normalise, review_decide
from .policies import (
    cap_delete,
    cap_save,
    keyword_add,
    keyword_delete,
    policy_ensure,
    policy_update,
    purpose_delete,
    purpose_save,
    reply_save,
)
from .records import consent_change, export_recorded, record_fold, records_rebuild
from .suppression import (
    inbound_recorded,
    send_recorded,
    sends_recorded,
    sends_released,
    suppression_add,
    suppression_lift,
    window_closed,
)

__all__ = [
    "ContactFacts",
    "FACT_FIELDS",
    "Decision",
    "KeywordResult",
    "SendRequest",
    "cap_delete",
    "cap_save",
    "check",
    "check_many",
    "contact_facts",
    "consent_change",
    "conversation_window",
    "decide_sends",
    "export_recorded",
    "inbound_keyword",
    "inbound_recorded",
    "window_closed",
    "keyword_add",
    "keyword_delete",
    "keyword_match",
    "keyword_normalise",
    "review_decide",
    "policy_ensure",
    "policy_update",
    "purpose_delete",
    "purpose_save",
    "quiet_until",
    "record_fold",
    "records_rebuild",
    "reply_save",
    "send_recorded",
    "sends_recorded",
    "sends_released",
    "suppression_add",
    "suppression_lift",
    "wall_to_instant",
]
