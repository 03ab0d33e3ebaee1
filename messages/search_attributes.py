"""Custom search attributes operators filter on in Temporal UI. Safe inside the workflow sandbox."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.common import SearchAttributeKey

TRANSFER_TYPE = SearchAttributeKey.for_keyword("TransferType")
TRANSFER_STATUS = SearchAttributeKey.for_keyword("TransferStatus")
CURRENT_NODE_ORG = SearchAttributeKey.for_keyword("CurrentNodeOrg")
FROM_ORG = SearchAttributeKey.for_keyword("FromOrg")
TO_ORG = SearchAttributeKey.for_keyword("ToOrg")
NODE_DEADLINE = SearchAttributeKey.for_datetime("NodeDeadline")
CHANNEL = SearchAttributeKey.for_keyword("Channel")

ALL = (TRANSFER_TYPE, TRANSFER_STATUS, CURRENT_NODE_ORG, FROM_ORG, TO_ORG, NODE_DEADLINE, CHANNEL)

#: Names of the types as the `temporal` CLI spells them (--search-attribute KEY=TYPE).
_CLI_TYPE = {
    "INDEXED_VALUE_TYPE_KEYWORD": "Keyword",
    "INDEXED_VALUE_TYPE_DATETIME": "Datetime",
    "INDEXED_VALUE_TYPE_TEXT": "Text",
    "INDEXED_VALUE_TYPE_INT": "Int",
    "INDEXED_VALUE_TYPE_DOUBLE": "Double",
    "INDEXED_VALUE_TYPE_BOOL": "Bool",
    "INDEXED_VALUE_TYPE_KEYWORD_LIST": "KeywordList",
}


def cli_flags() -> list[str]:
    """`--search-attribute` flags for `temporal server start-dev`."""
    out: list[str] = []
    for key in ALL:
        out += [
            "--search-attribute",
            f"{key.name}={_CLI_TYPE[IndexedValueType.Name(IndexedValueType.ValueType(key.indexed_value_type))]}",
        ]
    return out
