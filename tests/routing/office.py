"""A sample office for routing tests: three managers, a head of sales and an owner."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from router.directory import ContactView, Department, Directory, Manager, Role, WorkingHours
from router.plan import IncomingCall

MOSCOW = ZoneInfo("Europe/Moscow")
SALES = Department(1, "Sales", WorkingHours.office(time(9, 0), time(18, 0)))
IVAN = Manager(1, "Ivan", "PJSIP/101", Role.MANAGER, 1)
OLGA = Manager(2, "Olga", "PJSIP/102", Role.MANAGER, 1)
PETR = Manager(3, "Petr", "PJSIP/103", Role.MANAGER, 1)
HEAD = Manager(4, "Head", "PJSIP/104", Role.HEAD_OF_SALES, 1)
OWNER = Manager(5, "Owner", "PJSIP/105", Role.OWNER, None)
OFFICE = Directory(departments=(SALES,), managers=(IVAN, OLGA, PETR, HEAD, OWNER))

WEDNESDAY_NOON = datetime(2026, 11, 25, 12, 0, tzinfo=MOSCOW)
SATURDAY_NOON = datetime(2026, 11, 28, 12, 0, tzinfo=MOSCOW)

KNOWN = ContactView(7, "+79161234567", "Иван Петров", responsible_manager_id=IVAN.id)
NO_MANAGER = ContactView(8, "+79037654321", "Anna", responsible_manager_id=None)


def call(caller: str | None = "+79161234567", uniqueid: str = "1795746830.87") -> IncomingCall:
    return IncomingCall(uniqueid=uniqueid, caller=caller, caller_name="", did="7000")
