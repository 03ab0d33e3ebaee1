"""The roles of a login (`users.role`); their Chinese labels are in the glossary."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    #: an org's administrator: acts for their org and the orgs below it
    ADMIN = "admin"
    #: a league member: follows and starts their own transfer
    MEMBER = "member"
    #: a backend service (a school's information system): starts and reads transfers via the API
    SERVICE = "service"
