"""The types of the errors workflows and activities raise, as the callers map them.

A caller maps a failure by its type (and the RPC status), never by its message text: the
message is the Chinese sentence shown to people and may be reworded.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorType(StrEnum):
    #: an update's validator: the decision no longer fits the state (HTTP 409)
    DECISION_REFUSED = "DecisionRefused"
    #: an update's validator: the decision's input breaks a rule (HTTP 422)
    INVALID_INPUT = "InvalidInput"
    #: a return on a ground §III.4 forbids (HTTP 422)
    INVALID_RETURN_GROUND = "InvalidReturnGround"
    #: a persisting activity was given data it can never write (not retried)
    INVALID_TRANSFER_DATA = "InvalidTransferData"
    INVALID_STAY_DATA = "InvalidStayData"


#: Validator refusals that mean "the input breaks a rule" (422); any other is a conflict (409).
INPUT_ERRORS = frozenset({ErrorType.INVALID_INPUT, ErrorType.INVALID_RETURN_GROUND})
